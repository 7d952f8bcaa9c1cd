import Foundation
import HaulFormat

/// The JSON conventions of the API: ISO 8601 dates (UTC, whole seconds), sorted keys, no escaped slashes.
public enum HaulJSON {
    public static func encoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }

    public static func decoder() -> JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }
}

/// A request body: a flat JSON object whose fields are exactly `Field.allCases`. The service decodes these with
/// `StrictJSONDecoder`, which refuses any other field, so a misspelt option never goes unnoticed.
public protocol APIRequestBody: Codable, Sendable {
    associatedtype Field: CodingKey & CaseIterable
}

/// Decodes request bodies strictly: the body must be one JSON object, every key must be a field of the type, and
/// every value must decode. Errors are `APIError`s with the stable codes `malformedJSON`, `unknownField`,
/// `invalidName` (a field that is a `ResourceName`).
public struct StrictJSONDecoder: Sendable {
    public init() {}

    public func decode<T: APIRequestBody>(_ type: T.Type, from data: Data) throws(APIError) -> T {
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: data, options: [])
        } catch {
            throw APIError(.malformedJSON, "the request body is not valid JSON")
        }
        guard let dictionary = object as? [String: Any] else {
            throw APIError(.malformedJSON, "the request body must be a JSON object")
        }
        let allowed = Set(T.Field.allCases.map(\.stringValue))
        if let unknown = dictionary.keys.sorted().first(where: { !allowed.contains($0) }) {
            throw APIError(
                .unknownField,
                "unknown field \"\(unknown)\"; allowed fields: \(allowed.sorted().joined(separator: ", "))")
        }
        do {
            return try HaulJSON.decoder().decode(T.self, from: data)
        } catch let DecodingError.dataCorrupted(context) {
            throw Self.fieldError(context)
        } catch let DecodingError.typeMismatch(_, context) {
            throw APIError(.malformedJSON, "field \"\(Self.path(context))\" has the wrong type")
        } catch let DecodingError.valueNotFound(_, context) {
            throw APIError(.malformedJSON, "field \"\(Self.path(context))\" must not be null")
        } catch let DecodingError.keyNotFound(key, _) {
            throw APIError(.malformedJSON, "missing field \"\(key.stringValue)\"")
        } catch {
            throw APIError(.malformedJSON, "the request body could not be decoded")
        }
    }

    private static func path(_ context: DecodingError.Context) -> String {
        context.codingPath.map(\.stringValue).joined(separator: ".")
    }

    private static func fieldError(_ context: DecodingError.Context) -> APIError {
        let field = path(context)
        if context.underlyingError is HaulError {
            return APIError(.invalidName, "field \"\(field)\": \(context.debugDescription)")
        }
        return APIError(.malformedJSON, "field \"\(field)\": \(context.debugDescription)")
    }
}
