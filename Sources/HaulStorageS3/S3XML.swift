import Foundation
import HaulFormat

#if canImport(FoundationXML)
    import FoundationXML
#endif

/// A parsed XML element: just enough of a tree to read S3's responses (ListObjectsV2, errors, multipart).
struct S3XMLElement: Sendable {
    var name: String
    var text: String
    var children: [S3XMLElement]

    /// The first direct child called `name`.
    func child(_ name: String) -> S3XMLElement? {
        children.first { $0.name == name }
    }

    /// Every direct child called `name`.
    func children(_ name: String) -> [S3XMLElement] {
        children.filter { $0.name == name }
    }

    /// The text of the first direct child called `name`.
    func text(_ name: String) -> String? {
        child(name)?.text
    }

    /// Parses a document; names are local names (namespaces dropped).
    /// - Throws: `HaulError(.corrupted)` if the bytes are not well-formed XML.
    static func parse(_ bytes: [UInt8], what: String) throws -> S3XMLElement {
        let builder = TreeBuilder()
        let parser = XMLParser(data: Data(bytes))
        parser.delegate = builder
        guard parser.parse(), let root = builder.root else {
            let reason = parser.parserError.map { "\($0)" } ?? "no root element"
            throw HaulError(
                .corrupted,
                "the S3 server's reply to \(what) is not XML (\(reason)): "
                    + String(decoding: bytes.prefix(200), as: UTF8.self))
        }
        return root
    }

    /// Escapes `&`, `<`, `>` and `"` for element text.
    static func escape(_ text: String) -> String {
        var out = ""
        for character in text {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            default: out.append(character)
            }
        }
        return out
    }
}

/// Builds the tree from XMLParser's events.
private final class TreeBuilder: NSObject, XMLParserDelegate {
    var stack: [S3XMLElement] = []
    var root: S3XMLElement?

    func parser(
        _ parser: XMLParser, didStartElement elementName: String, namespaceURI: String?, qualifiedName: String?,
        attributes: [String: String] = [:]
    ) {
        let local = elementName.split(separator: ":").last.map(String.init) ?? elementName
        stack.append(S3XMLElement(name: local, text: "", children: []))
    }

    func parser(_ parser: XMLParser, foundCharacters string: String) {
        guard !stack.isEmpty else { return }
        stack[stack.count - 1].text += string
    }

    func parser(
        _ parser: XMLParser, didEndElement elementName: String, namespaceURI: String?, qualifiedName: String?
    ) {
        guard let element = stack.popLast() else { return }
        if stack.isEmpty {
            root = element
        } else {
            stack[stack.count - 1].children.append(element)
        }
    }
}
