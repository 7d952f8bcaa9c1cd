import ArgumentParser
import Foundation
import HaulAgent
import HaulCrypto
import HaulFormat
import HaulProtocol
import HaulRepository

struct RegisterCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "register",
        abstract: "Register this machine with a vault and create its repository there.",
        discussion: """
            Reads the publish settings (from `haul cloud publish-settings`), generates this machine's identity key \
            in the state directory ($HAUL_STATE_DIR, default /var/lib/haul; the key never leaves it), sends a \
            certificate request with the settings' site identity, and stores the issued certificate and \
            server.json. Then it creates the repository in the vault: config and wrapped keys are written at once. \
            The passphrase comes from HAUL_PASSWORD, --password-file FILE or a prompt, as for `haul init`; it \
            never leaves this machine, and a lost passphrase means lost data: nobody can recover it.

            With --recover NAME, this machine takes over the existing server NAME and its repository (for a \
            replaced or reinstalled machine); the server's earlier identity is revoked and no repository is created.

            Afterwards `haul backup`, `snapshots`, `restore`, `check`, `forget` and `prune` use the vault whenever \
            neither --repo nor HAUL_REPO is given (docs/agent.md §4).

            Example: haul register --settings office.publishsettings --name web-1
            """)

    @Option(name: .long, help: "The publish-settings file.")
    var settings: String

    @Option(name: .long, help: "The vault (must be the one the settings are for).")
    var vault: String?

    @Option(name: .long, help: "This server's name in the vault (default: the host name).")
    var name: String?

    @Option(name: .long, help: "Attach to the existing server NAME instead of registering a new one.")
    var recover: String?

    @Option(
        name: .long, help: "Read the passphrase from the first line of FILE (default: $HAUL_PASSWORD, or a prompt).")
    var passwordFile: String?

    @Flag(name: .long, help: "Print machine-readable JSON on standard output.")
    var json = false

    func validate() throws {
        if recover != nil && name != nil { throw ValidationError("give either --name or --recover, not both") }
    }

    func run() async throws {
        let settings = try PublishSettings.read(from: self.settings)
        if let vault, vault != settings.vault.rawValue {
            throw ValidationError(
                "the settings \(self.settings) are for vault \(settings.vault), not \(vault); ask your "
                    + "administrator for settings of \(vault)")
        }
        let state = AgentState.fromEnvironment()
        let registrar = Registrar(state: state, settings: settings)
        let serverName = try resourceName(
            recover ?? name ?? ServerNameSuggestion.fromHost(Host.currentName), "server name")
        // Ask for the passphrase before anything is registered, so a typo does not leave a half-done registration.
        let passphrase = recover == nil ? try Passphrase.read(passwordFile: passwordFile, confirm: true) : nil
        let outcome =
            recover == nil
            ? try await registrar.register(name: serverName) : try await registrar.recover(name: serverName)
        var repositoryID: String?
        if let passphrase {
            let repository = try await Repository.initialize(
                store: try state.vaultStore(), passphrase: passphrase, kdf: KDFParameters.forNewKey(),
                hostname: Host.currentName, username: Host.userName)
            repositoryID = repository.config.id
        }
        struct Out: Encodable {
            let server: String
            let serverId: UUID
            let vault: String
            let service: String
            let stateDirectory: String
            let recovered: Bool
            let repository: String?
        }
        let record = outcome.record
        if json {
            try printJSON(
                Out(
                    server: record.serverName.rawValue, serverId: record.serverID, vault: record.vault.rawValue,
                    service: record.serviceURL, stateDirectory: state.path, recovered: outcome.recovered,
                    repository: repositoryID))
            return
        }
        if outcome.recovered {
            print("this machine is now server \(record.serverName) of vault \(record.vault) (state in \(state.path))")
            print("restore with `haul snapshots` and `haul restore latest --target DIR`; the passphrase is the old one")
        } else {
            print("registered server \(record.serverName) in vault \(record.vault) (state in \(state.path))")
            print("created repository \(repositoryID?.prefix(16) ?? "") in the vault")
            print("Keep the passphrase safe: without it the backups cannot be read, not even by the service.")
        }
    }
}
