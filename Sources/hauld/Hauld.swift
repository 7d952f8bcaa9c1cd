import ArgumentParser
import Foundation
import HaulFormat
import HaulIdentity
import HaulMetadata
import HaulMetadataPostgres
import HaulMetadataSQLite
import HaulProtocol
import HaulService
import Logging
import Metrics
import Prometheus

@main
struct Hauld: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hauld",
        abstract: "The Haul service: vaults, storage accounts and identities for many subscriptions.",
        discussion: """
            Start it with `hauld serve --data DIR`; bootstrap a customer with `hauld admin subscription create` and \
            `hauld admin credential`. See docs/service.md.
            """,
        subcommands: [Serve.self, Admin.self])
}

/// Options every command shares: where the data lives.
struct StoreOptions: ParsableArguments {
    @Option(help: "The data directory (metadata.sqlite, blobs/, tls/, ca/).")
    var data: String

    @Option(help: "A PostgreSQL metadata store instead of DIR/metadata.sqlite: postgres://USER@HOST:PORT/DATABASE.")
    var database: String?

    /// Runs `body` with the migrated metadata store.
    func withMetadata<T: Sendable>(_ body: (any MetadataStore) async throws -> T) async throws -> T {
        let directory = ServiceDirectory(root: data)
        try directory.prepare()
        if let database {
            return try await PostgresMetadataStore.withStore(url: database) { store in
                try await store.migrate()
                return try await body(store)
            }
        }
        let store = try SQLiteMetadataStore(path: directory.metadataPath)
        try await store.migrate()
        return try await body(store)
    }
}

/// Prints a value as JSON (`--json`) or as text.
func emit(_ value: some Encodable, json: Bool, text: () -> String) throws {
    if json {
        let encoder = HaulJSON.encoder()
        encoder.outputFormatting.insert(.prettyPrinted)
        FileHandle.standardOutput.write(try encoder.encode(value) + Data("\n".utf8))
    } else {
        FileHandle.standardOutput.write(Data((text() + "\n").utf8))
    }
}

/// Turns a library error into a message and exit code 1 (docs/exit-codes.md), as JSON with `--json`.
func fail(_ error: any Error, json: Bool) -> ExitCode {
    let code = (error as? HaulError)?.code.rawValue ?? "internal"
    let message = (error as? HaulError)?.description ?? "\(error)"
    if json {
        let body = "{\"error\":{\"code\":\"\(code)\",\"message\":\(jsonString(message))}}"
        FileHandle.standardError.write(Data((body + "\n").utf8))
    } else {
        FileHandle.standardError.write(Data("hauld: \(message)\n".utf8))
    }
    return ExitCode(1)
}

func jsonString(_ s: String) -> String {
    (try? String(decoding: JSONEncoder().encode(s), as: UTF8.self)) ?? "\"\""
}
