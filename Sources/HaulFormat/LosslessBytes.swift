import Foundation

/// Bytes that are usually UTF-8 text (file names, paths), encoded in JSON without loss: a plain string when the
/// bytes are valid UTF-8, otherwise `{"b64": "…"}` (format.md §8).
public struct LosslessBytes: Codable, Sendable, Hashable, CustomStringConvertible {
    public var bytes: [UInt8]
    public init(_ bytes: [UInt8]) { self.bytes = bytes }
    public init(_ string: String) { self.bytes = Array(string.utf8) }

    /// The text if the bytes are valid UTF-8.
    public var utf8String: String? { String(validating: bytes, as: UTF8.self) }
    public var description: String { String(decoding: bytes, as: UTF8.self) }

    private enum Keys: String, CodingKey { case b64 }

    public init(from decoder: any Decoder) throws {
        if let c = try? decoder.singleValueContainer(), let s = try? c.decode(String.self) {
            bytes = Array(s.utf8)
            return
        }
        let c = try decoder.container(keyedBy: Keys.self)
        let s = try c.decode(String.self, forKey: .b64)
        guard let d = Data(base64Encoded: s) else {
            throw DecodingError.dataCorruptedError(forKey: .b64, in: c, debugDescription: "invalid base64")
        }
        bytes = [UInt8](d)
    }

    public func encode(to encoder: any Encoder) throws {
        if let s = utf8String {
            var c = encoder.singleValueContainer()
            try c.encode(s)
        } else {
            var c = encoder.container(keyedBy: Keys.self)
            try c.encode(Data(bytes).base64EncodedString(), forKey: .b64)
        }
    }
}
