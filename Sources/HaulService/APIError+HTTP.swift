import Foundation
import HTTPTypes
import HaulFormat
import HaulProtocol
import Hummingbird

extension APIError: HTTPResponseError {
    public var status: HTTPResponse.Status { HTTPResponse.Status(code: code.status) }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        APIError.jsonResponse(self, head: request.method == .head)
    }

    /// The JSON error body `{"error": {"code", "message"}}` (an empty body for `HEAD`).
    static func jsonResponse(_ error: APIError, head: Bool = false) -> Response {
        let data = (try? HaulJSON.encoder().encode(error.body)) ?? Data()
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        headers[.contentLength] = String(data.count)
        if error.code == .unauthenticated || error.code.status == 401 {
            headers[.wwwAuthenticate] = "Bearer"
        }
        return Response(
            status: HTTPResponse.Status(code: error.code.status), headers: headers,
            body: head ? ResponseBody() : ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
    }

    /// Maps any error a handler may throw to an API error: our own pass through, the store's `HaulError` codes map
    /// to their HTTP meaning, Hummingbird's errors to their status, anything else to `500 internal` (logged).
    static func from(_ error: any Error) -> APIError {
        switch error {
        case let error as APIError:
            return error
        case let error as HaulError:
            switch error.code {
            case .notFound: return APIError(.notFound, error.message)
            case .alreadyExists: return APIError(.alreadyExists, error.message)
            case .invalidArgument: return APIError(.invalidSettings, error.message)
            default:
                if error.isTransient { return APIError(.unavailable, "the service is busy; retry shortly") }
                return APIError(.internal, "internal error")
            }
        case let error as HTTPError:
            switch error.status {
            case .notFound: return APIError(.notFound, "no such route")
            case .contentTooLarge: return APIError(.bodyTooLarge, "the request body is too large")
            case .methodNotAllowed: return APIError(.methodNotAllowed, "method not allowed on this route")
            case .badRequest: return APIError(.malformedJSON, error.body ?? "bad request")
            case .unauthorized: return APIError(.unauthenticated, "this route needs a bearer token")
            default: return APIError(.internal, error.body ?? "internal error")
            }
        default:
            return APIError(.internal, "internal error")
        }
    }
}

/// Turns every error, also those of Hummingbird itself (unknown route, body too large), into the JSON error body
/// with a stable code. Unexpected errors are logged with their detail; the response says only `internal`.
struct ErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response)
        async throws -> Response
    {
        do {
            return try await next(request, context)
        } catch {
            let mapped = APIError.from(error)
            if mapped.code == .internal || mapped.code == .unavailable {
                context.logger.error(
                    "request failed",
                    metadata: ["path": "\(request.uri.path)", "error": "\(String(reflecting: error))"])
            }
            return APIError.jsonResponse(mapped, head: request.method == .head)
        }
    }
}
