import ArgumentParser
import Foundation
import HaulCrypto
import HaulFormat
import HaulRepository

struct InitCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init",
        abstract: "Create a new repository in an empty directory.",
        discussion: """
            Generates the repository's keys and wraps them with a key derived from your passphrase (scrypt, \
            calibrated to take about half a second). A lost passphrase means lost data: nobody can recover it; init says so \
            on standard error every time (with --json also as the `warning` field).

            Example: haul init --repo /backup/repo
            """)

    @OptionGroup var global: GlobalOptions

    func run() async throws {
        let store = try global.store(create: true)
        let passphrase = try global.passphrase(confirm: true)
        let kdf = KDFParameters.forNewKey()
        let repository = try await Repository.initialize(
            store: store, passphrase: passphrase, kdf: kdf, hostname: Host.currentName, username: Host.userName)
        struct Out: Encodable {
            let id: String
            let repository: String
            let kdf: KDFParameters
            let warning: String
        }
        let path = try global.location().description
        warnAboutLostPassphrase()
        if global.json {
            try printJSON(
                Out(id: repository.config.id, repository: path, kdf: kdf, warning: KeyCommand.lostPassphraseWarning))
        } else {
            print("created repository \(repository.config.id.prefix(16)) at \(path)")
        }
    }
}
