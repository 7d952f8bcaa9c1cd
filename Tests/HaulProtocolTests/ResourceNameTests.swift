import HaulProtocol
import Testing

@Suite struct ResourceNameTests {
    @Test(arguments: ["a", "vault-1", "0", "abc-def-0123", String(repeating: "a", count: 63)])
    func accepts(_ name: String) throws {
        #expect(try ResourceName(name).rawValue == name)
    }

    @Test(arguments: [
        "", "-a", "A", "a_b", "a.b", "a/b", "..", "é", "a b", String(repeating: "a", count: 64), "%2f",
    ])
    func refuses(_ name: String) {
        #expect(throws: (any Error).self) { try ResourceName(name) }
    }
}
