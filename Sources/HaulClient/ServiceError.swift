import Foundation
import HaulFormat
import HaulProtocol

/// Turns the service's error bodies (`{"error": {"code": …, "message": …}}`, docs/service.md §8) into `HaulError`s
/// whose message says what to do.
///
/// Codes that the `BlobStore` contract names keep their meaning (`notFound`, `alreadyExists`, a refused range is
/// `invalidArgument`); every other service code becomes a `HaulError.Code` of the same name. 5xx answers and 429
/// are transient; everything else is permanent.
enum ServiceError {
    struct Body: Decodable {
        struct Inner: Decodable {
            let code: String
            let message: String
        }
        let error: Inner
        var code: String { error.code }
    }

    static func isRetryable(_ status: Int) -> Bool { [429, 502, 503, 504].contains(status) }

    static func body(of exchange: HTTPExchange) -> Body.Inner? {
        (try? JSONDecoder().decode(Body.self, from: Data(exchange.body)))?.error
    }

    /// The error for a non-2xx exchange of `request` (e.g. `PUT /v1/…`).
    static func map(_ exchange: HTTPExchange, request: String) -> HaulError {
        let status = exchange.status
        let transient = status >= 500 || status == 429
        guard let body = body(of: exchange) else {
            return HaulError(
                status == 404 ? .notFound : .io,
                "the service answered \(status) to \(request) without an error body", transient: transient)
        }
        let message = "the service refused \(request): \(body.message)"
        switch body.code {
        case "notFound":
            return HaulError(.notFound, message)
        case "alreadyExists", "immutable":
            return HaulError(.alreadyExists, message)
        case "invalidRange":
            return HaulError(.invalidArgument, message)
        case "forbidden":
            return HaulError(
                .permissionDenied, message + "; this credential may not do that (ask your administrator)")
        case "identityRevoked":
            return HaulError(
                .init(rawValue: body.code),
                message + "; this identity was revoked: register again (`haul register --settings FILE --recover "
                    + "SERVER`) or ask your administrator")
        case "tokenExpired", "tokenRevoked":
            return HaulError(.init(rawValue: body.code), message + "; try again", transient: true)
        case "assertionUnknownCertificate":
            return HaulError(
                .init(rawValue: body.code),
                message + "; the service does not know this certificate: register this machine with "
                    + "`haul register --settings FILE`, or ask your administrator for a new credential")
        case "assertionExpired", "assertionLifetimeTooLong":
            return HaulError(.init(rawValue: body.code), message + "; check that this machine's clock is right")
        case "leaseConflict":
            return HaulError(.repositoryBusy, message + "; try again later")
        case "bodyTooLarge":
            return HaulError(.limitExceeded, message)
        case "unavailable", "internal":
            return HaulError(.init(rawValue: body.code), message + "; try again later", transient: true)
        default:
            return HaulError(.init(rawValue: body.code), message, transient: transient)
        }
    }

    /// Decodes a JSON response body or says which answer could not be read.
    static func decode<T: Decodable>(_ type: T.Type, _ exchange: HTTPExchange, request: String) throws -> T {
        do {
            return try HaulJSON.decoder().decode(T.self, from: Data(exchange.body))
        } catch {
            throw HaulError(.corrupted, "cannot read the service's answer to \(request)", cause: error)
        }
    }
}
