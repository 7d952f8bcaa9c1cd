import ArgumentParser
import Foundation
import HaulFormat
import HaulMetadata
import HaulProtocol
import HaulService

struct Admin: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Provider administration on the metadata store (works beside running instances).",
        subcommands: [SubscriptionCommand.self, Credential.self, OperatorCommand.self, DatacenterCommand.self])
}

/// Opens the store and the CA of DIR for an admin command.
func administration<T: Sendable>(
    _ store: StoreOptions, _ body: (ServiceAdministration, ServiceDirectory) async throws -> T
) async throws -> T {
    let directory = ServiceDirectory(root: store.data)
    try directory.prepare()
    let authority = try directory.certificateAuthority(now: Date())
    return try await store.withMetadata { metadata in
        try await body(ServiceAdministration(metadata: metadata, authority: authority), directory)
    }
}

/// The pins for a credential: of `--tls-cert` if given, else of DIR/tls/cert.pem (made if missing).
func pins(_ directory: ServiceDirectory, tlsCert: String?) throws -> [String] {
    if let tlsCert {
        guard let data = FileManager.default.contents(atPath: tlsCert) else {
            throw HaulError(.notFound, "cannot read the TLS certificate \(tlsCert)")
        }
        return [try ServiceDirectory.pin(certificatePEM: String(decoding: data, as: UTF8.self))]
    }
    let tls = try directory.tlsCredentials(now: Date())
    return [try ServiceDirectory.pin(certificatePEM: tls.certificatePEM)]
}

struct SubscriptionCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "subscription", abstract: "Create and list subscriptions.", subcommands: [Create.self, List.self])

    struct SubscriptionInfo: Encodable {
        var id: UUID
        var name: String
        var created: Date
    }

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a subscription and print its id.",
            discussion: "Example:\n  hauld admin subscription create acme --data /var/lib/hauld")
        @OptionGroup var store: StoreOptions
        @Argument(help: "The subscription's name ([a-z0-9][a-z0-9-]{0,62}).") var name: String
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            do {
                let name = try ResourceName(name)
                let subscription = try await administration(store) { admin, _ in
                    try await admin.createSubscription(name: name)
                }
                try emit(
                    SubscriptionInfo(id: subscription.id, name: subscription.name, created: subscription.created),
                    json: json
                ) { subscription.id.uuidString.lowercased() }
            } catch {
                throw fail(error, json: json)
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List subscriptions.",
            discussion: "Example:\n  hauld admin subscription list --data /var/lib/hauld --json")
        @OptionGroup var store: StoreOptions
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            do {
                let subscriptions = try await administration(store) { admin, _ in try await admin.subscriptions() }
                try emit(
                    subscriptions.map { SubscriptionInfo(id: $0.id, name: $0.name, created: $0.created) }, json: json
                ) {
                    subscriptions.map { "\($0.id.uuidString.lowercased())  \($0.name)" }.joined(separator: "\n")
                }
            } catch {
                throw fail(error, json: json)
            }
        }
    }
}

struct Credential: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a subscription administrator's credential file (JSON, mode 0600).",
        discussion: """
            The key is made here and certified by DIR/ca as a subscriptionAdmin of the subscription. Keep the file \
            on the administrator's workstation, never on a protected machine.

            Example:
              hauld admin credential --subscription 6f1c… --out admin.json --data /var/lib/hauld \
            --url https://backup.example:8443
            """)
    @OptionGroup var store: StoreOptions
    @Option(help: "The subscription id.") var subscription: String
    @Option(help: "Where to write the credential.") var out: String
    @Option(help: "The service URL clients use.") var url: String = "https://127.0.0.1:8443"
    @Option(help: "Pin this TLS certificate instead of DIR/tls/cert.pem.") var tlsCert: String?
    @Flag(help: "Print JSON.") var json = false

    struct Written: Encodable {
        var path: String
        var subscription: UUID
        var serviceURL: String
        var pins: [String]
    }

    func run() async throws {
        do {
            guard let id = UUID(uuidString: subscription) else {
                throw HaulError(.invalidArgument, "--subscription must be a subscription id (a UUID)")
            }
            let credential = try await administration(store) { admin, directory in
                try await admin.adminCredential(
                    subscription: id, serviceURL: url, pins: try pins(directory, tlsCert: tlsCert))
            }
            try writeCredential(credential, to: out)
            try emit(Written(path: out, subscription: id, serviceURL: url, pins: credential.pins), json: json) {
                "wrote the admin credential for subscription \(id.uuidString.lowercased()) to \(out) (mode 0600)"
            }
        } catch {
            throw fail(error, json: json)
        }
    }
}

struct OperatorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "operator", abstract: "Datacenter operators.", subcommands: [Create.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create an operator and write its credential file (JSON, mode 0600).",
            discussion: "Example:\n  hauld admin operator create dc-alice --out alice.json --data /var/lib/hauld")
        @OptionGroup var store: StoreOptions
        @Argument(help: "The operator's name.") var name: String
        @Option(help: "Where to write the credential.") var out: String
        @Option(help: "The service URL clients use.") var url: String = "https://127.0.0.1:8443"
        @Option(help: "Pin this TLS certificate instead of DIR/tls/cert.pem.") var tlsCert: String?
        @Flag(help: "Print JSON.") var json = false

        struct Written: Encodable {
            var path: String
            var operatorId: UUID
        }

        func run() async throws {
            do {
                let name = try ResourceName(name)
                let credential = try await administration(store) { admin, directory in
                    try await admin.createOperator(
                        name: name, serviceURL: url, pins: try pins(directory, tlsCert: tlsCert))
                }
                try writeCredential(credential, to: out)
                try emit(Written(path: out, operatorId: credential.operatorId), json: json) {
                    "operator \(credential.operatorId.uuidString.lowercased()); credential written to \(out) (mode 0600)"
                }
            } catch {
                throw fail(error, json: json)
            }
        }
    }
}

struct DatacenterCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "datacenter", abstract: "Where customers ship drives.", subcommands: [Set.self])

    struct Set: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Set the datacenter's name and shipping address.",
            discussion:
                "Example:\n  hauld admin datacenter set --name dc1 --address \"Haul DC1, 1 Dock Rd, Springfield\" --data /var/lib/hauld"
        )
        @OptionGroup var store: StoreOptions
        @Option(help: "The datacenter's name.") var name: String
        @Option(help: "The shipping address.") var address: String
        @Flag(help: "Print JSON.") var json = false

        struct Info: Encodable {
            var name: String
            var address: String
        }

        func run() async throws {
            do {
                try await administration(store) { admin, _ in
                    try await admin.setDatacenter(name: name, address: address)
                }
                try emit(Info(name: name, address: address), json: json) { "datacenter \(name): \(address)" }
            } catch {
                throw fail(error, json: json)
            }
        }
    }
}

/// Writes a credential file as pretty-printed JSON with mode 0600 (it holds a private key).
func writeCredential(_ credential: some Encodable, to path: String) throws {
    let encoder = HaulJSON.encoder()
    encoder.outputFormatting.insert(.prettyPrinted)
    try ServiceDirectory.write(String(decoding: try encoder.encode(credential), as: UTF8.self), to: path, mode: 0o600)
}
