import Foundation
import HaulProtocol
import Testing

@Suite struct StrictJSONDecoderTests {
    private func code(_ json: String) -> APIErrorCode? {
        do {
            _ = try StrictJSONDecoder().decode(VaultCreateRequest.self, from: Data(json.utf8))
            return nil
        } catch {
            return error.code
        }
    }

    @Test func decodesKnownFields() throws {
        let request = try StrictJSONDecoder().decode(
            VaultCreateRequest.self, from: Data(#"{"name":"v1","retentionDays":30}"#.utf8))
        #expect(request.name.rawValue == "v1")
        #expect(request.retentionDays == 30)
    }

    @Test(arguments: [
        (#"{"name":"v1","colour":"red"}"#, APIErrorCode.unknownField),
        (#"{"name":"v1""#, .malformedJSON),
        (#"["v1"]"#, .malformedJSON),
        (#"{"name":"V1"}"#, .invalidName),
        (#"{"name":"../x"}"#, .invalidName),
        (#"{"name":7}"#, .malformedJSON),
        (#"{}"#, .malformedJSON),
    ])
    func refuses(_ json: String, _ expected: APIErrorCode) {
        #expect(code(json) == expected)
    }

    @Test func everyCodeHasAStatus() {
        for code in APIErrorCode.allCases { #expect((400..<600).contains(code.status)) }
    }

    @Test func errorBodyShape() throws {
        let data = try HaulJSON.encoder().encode(APIErrorBody(code: .notFound, message: "no vault \"x\""))
        #expect(String(decoding: data, as: UTF8.self) == #"{"error":{"code":"notFound","message":"no vault \"x\""}}"#)
    }
}
