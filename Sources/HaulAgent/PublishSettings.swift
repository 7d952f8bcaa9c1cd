import Foundation
import HaulFormat
import HaulIdentity
import HaulProtocol

#if canImport(FoundationXML)
    import FoundationXML
#endif

/// The publish-settings file a subscription administrator hands to site machines (docs/service.md §9,
/// docs/agent.md §2): where the service is, which keys it may present, and a short-lived `site` identity that may
/// register servers into one vault and nothing destructive.
///
/// The file is XML because the reference workflow's tools exchange XML; it is parsed defensively: at most
/// `maximumSize` bytes, no document type declaration and no entity declaration (refused before the parser sees
/// the bytes, so no entity is ever expanded or fetched), one element of each kind.
public struct PublishSettings: Sendable, Equatable {
    /// The format version this code writes and reads.
    public static let version = 1
    /// Files larger than this are refused unread.
    public static let maximumSize = 64 << 10

    /// The service's base URL, `https://host:port`.
    public var serviceURL: String
    /// SPKI SHA-256 pins of the service's TLS key; any one must match.
    public var pins: [SPKIPin]
    /// The subscription the site identity belongs to.
    public var subscription: UUID
    /// The vault servers register into.
    public var vault: ResourceName
    /// When the site identity stops working; settings past this date are refused.
    public var expires: Date
    /// The `site` certificate (PEM) the service issued for `privateKeyPEM`.
    public var certificatePEM: String
    /// The `site` private key (PEM, P-256). Secret: the file is written with mode 0600.
    public var privateKeyPEM: String

    public init(
        serviceURL: String, pins: [SPKIPin], subscription: UUID, vault: ResourceName, expires: Date,
        certificatePEM: String, privateKeyPEM: String
    ) {
        self.serviceURL = serviceURL
        self.pins = pins
        self.subscription = subscription
        self.vault = vault
        self.expires = expires
        self.certificatePEM = certificatePEM
        self.privateKeyPEM = privateKeyPEM
    }

    /// The SHA-256 thumbprint of the site certificate (64 lowercase hex digits), the name the administrator
    /// lists and revokes the settings by (`haul cloud publish-settings list|revoke`).
    public func thumbprint() throws -> String { try IdentityCertificate(pem: certificatePEM).thumbprint.hex }

    // MARK: Writing

    /// The XML document (UTF-8).
    public func xml() -> [UInt8] {
        var s = "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
        s += "<PublishSettings version=\"\(Self.version)\">\n"
        s += "  <ServiceURL>\(Self.escape(serviceURL))</ServiceURL>\n"
        for pin in pins { s += "  <Pin>\(pin.base64)</Pin>\n" }
        s += "  <Subscription>\(subscription.uuidString.lowercased())</Subscription>\n"
        s += "  <Vault>\(vault)</Vault>\n"
        s += "  <Expires>\(HaulDate.format(expires))</Expires>\n"
        s += "  <Certificate>\n\(Self.escape(certificatePEM))</Certificate>\n"
        s += "  <PrivateKey>\n\(Self.escape(privateKeyPEM))</PrivateKey>\n"
        s += "</PublishSettings>\n"
        return Array(s.utf8)
    }

    /// Writes the file with mode 0600 (it holds a private key); refuses to replace an existing file.
    /// - Throws: `alreadyExists` when `path` exists; `io` when it cannot be written.
    public func write(to path: String) throws {
        try SecretFile.create(path, contents: xml())
    }

    private static func escape(_ s: String) -> String {
        var out = ""
        for c in s {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            default: out.append(c)
            }
        }
        return out
    }

    // MARK: Reading

    /// Reads and parses a settings file, refusing expired settings and a file that group or others may read (it
    /// holds the site's private key, like an SSH key).
    /// - Parameter now: the current time (injected for tests).
    /// - Throws: `invalidArgument` for a malformed, oversized or DTD-carrying file; `insecurePermissions` naming the
    ///   `chmod` to run; `settingsExpired` past its date; `notFound` when the file does not exist.
    public static func read(from path: String, now: Date = Date()) throws -> PublishSettings {
        let bytes: [UInt8]
        do {
            bytes = try SecretFile.read(path, limit: maximumSize)
        } catch let error as HaulError where error.code == .notFound {
            throw HaulError(.notFound, "cannot open the publish settings \(path): it does not exist")
        } catch let error as HaulError where error.code == .invalidArgument {
            throw HaulError(
                .invalidArgument, "\(path) is larger than \(maximumSize >> 10) KiB; it is not a publish-settings file")
        }
        let settings = try parse(bytes, source: path)
        try settings.checkNotExpired(now: now, source: path)
        return settings
    }

    /// Refuses settings past their expiry with what to do.
    public func checkNotExpired(now: Date = Date(), source: String = "the publish settings") throws {
        guard expires > now else {
            throw HaulError(
                .settingsExpired,
                "\(source) expired on \(HaulDate.format(expires)); ask your administrator for new publish settings "
                    + "(`haul cloud publish-settings --vault \(vault)`)")
        }
    }

    /// Parses the XML of a settings file. Does not check the expiry (see `checkNotExpired`).
    /// - Throws: `invalidArgument` naming what is wrong.
    public static func parse(_ bytes: [UInt8], source: String = "the publish settings") throws -> PublishSettings {
        guard bytes.count <= maximumSize else {
            throw HaulError(
                .invalidArgument, "\(source) is larger than \(maximumSize >> 10) KiB; it is not a publish-settings file"
            )
        }
        if let declaration = forbiddenDeclaration(in: bytes) {
            throw HaulError(
                .invalidArgument,
                "\(source) contains a \(declaration) declaration, which publish settings never have; refusing to parse it"
            )
        }
        let collector = ElementCollector()
        let parser = XMLParser(data: Data(bytes))
        parser.shouldResolveExternalEntities = false
        parser.shouldProcessNamespaces = false
        parser.delegate = collector
        guard parser.parse(), collector.error == nil else {
            let reason = collector.error ?? parser.parserError.map { "\($0)" } ?? "malformed XML"
            throw HaulError(.invalidArgument, "\(source) is not a valid publish-settings file: \(reason)")
        }
        guard collector.rootClosed else {
            throw HaulError(.invalidArgument, "\(source) is truncated (no </PublishSettings>)")
        }
        guard collector.root == "PublishSettings" else {
            throw HaulError(.invalidArgument, "\(source) is not a publish-settings file (no <PublishSettings> root)")
        }
        guard collector.version == String(version) else {
            throw HaulError(
                .unsupportedVersion,
                "\(source) has version \(collector.version ?? "none"); this haul reads version \(version)")
        }
        func one(_ name: String) throws -> String {
            let values = collector.values[name] ?? []
            guard values.count == 1 else {
                throw HaulError(
                    .invalidArgument,
                    "\(source) must have exactly one <\(name)> element, found \(values.count)")
            }
            let value = values[0].trimmingCharacters(in: .whitespacesAndNewlines)
            guard !value.isEmpty else { throw HaulError(.invalidArgument, "\(source) has an empty <\(name)>") }
            return value
        }
        let pinTexts = (collector.values["Pin"] ?? []).map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
        guard !pinTexts.isEmpty else {
            throw HaulError(.invalidArgument, "\(source) names no <Pin> of the service's key")
        }
        let pins = try pinTexts.map { text in
            do {
                return try SPKIPin(base64: text)
            } catch let error as HaulError {
                throw HaulError(.invalidArgument, "\(source): \(error.message)")
            }
        }
        let subscriptionText = try one("Subscription")
        guard let subscription = UUID(uuidString: subscriptionText) else {
            throw HaulError(.invalidArgument, "\(source) has an unreadable <Subscription> \"\(subscriptionText)\"")
        }
        let vaultText = try one("Vault")
        let vault: ResourceName
        do {
            vault = try ResourceName(vaultText)
        } catch let error as HaulError {
            throw HaulError(.invalidArgument, "\(source): <Vault>: \(error.message)")
        }
        let expiresText = try one("Expires")
        guard let expires = HaulDate.parse(expiresText) else {
            throw HaulError(.invalidArgument, "\(source) has an unreadable <Expires> date \"\(expiresText)\"")
        }
        return PublishSettings(
            serviceURL: try one("ServiceURL"), pins: pins, subscription: subscription, vault: vault, expires: expires,
            certificatePEM: try one("Certificate") + "\n",
            privateKeyPEM: try one("PrivateKey") + "\n")
    }

    /// `DOCTYPE` or `ENTITY` when the bytes contain such a declaration (in any letter case), else `nil`.
    static func forbiddenDeclaration(in bytes: [UInt8]) -> String? {
        let text = String(decoding: bytes, as: UTF8.self).uppercased()
        for declaration in ["DOCTYPE", "ENTITY"] where text.contains("<!" + declaration) {
            return declaration
        }
        return nil
    }
}

/// Collects the text of the known child elements of the root; anything unexpected is an error.
private final class ElementCollector: NSObject, XMLParserDelegate {
    static let known: Set<String> = [
        "ServiceURL", "Pin", "Subscription", "Vault", "Expires", "Certificate", "PrivateKey",
    ]
    var root: String?
    var version: String?
    var values: [String: [String]] = [:]
    var error: String?
    var rootClosed = false
    private var depth = 0
    private var current: String?
    private var text = ""

    func parser(
        _ parser: XMLParser, didStartElement elementName: String, namespaceURI: String?,
        qualifiedName qName: String?, attributes attributeDict: [String: String] = [:]
    ) {
        depth += 1
        if depth == 1 {
            root = elementName
            version = attributeDict["version"]
        } else if depth == 2 {
            guard Self.known.contains(elementName) else {
                fail(parser, "unexpected element <\(elementName)>")
                return
            }
            current = elementName
            text = ""
        } else {
            fail(parser, "unexpected nested element <\(elementName)>")
        }
    }

    func parser(_ parser: XMLParser, foundCharacters string: String) {
        if current != nil { text += string }
    }

    func parser(
        _ parser: XMLParser, didEndElement elementName: String, namespaceURI: String?, qualifiedName qName: String?
    ) {
        if depth == 2, let name = current {
            values[name, default: []].append(text)
            current = nil
        } else if depth == 1 {
            rootClosed = true
        }
        depth -= 1
    }

    func parser(_ parser: XMLParser, foundInternalEntityDeclarationWithName name: String, value: String?) {
        fail(parser, "entity declaration \(name)")
    }

    func parser(
        _ parser: XMLParser, foundExternalEntityDeclarationWithName name: String, publicID: String?, systemID: String?
    ) {
        fail(parser, "entity declaration \(name)")
    }

    private func fail(_ parser: XMLParser, _ message: String) {
        if error == nil { error = message }
        parser.abortParsing()
    }
}
