import ArgumentParser
import Foundation
import Glibc
import HaulCrypto
import HaulFormat
import HaulRepository

/// `haul key …`: several passphrases for one repository (format.md §3).
struct KeyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "key",
        abstract: "List, add, remove or change the passphrases (key files) of a repository.",
        discussion: """
            Every key file wraps the same master keys under its own passphrase, so any of them opens the \
            repository. \(lostPassphraseWarning)

            Example: haul key list --repo /backup/repo
            """,
        subcommands: [
            KeyListCommand.self, KeyAddCommand.self, KeyRemoveCommand.self, KeyPasswdCommand.self,
            KeyExportRecoveryCommand.self,
        ])

    static let lostPassphraseWarning =
        "A lost passphrase means lost data: nobody can recover it (a recovery kit helps only with the passphrase)."
}

/// Says on standard error, after a passphrase was chosen (init, key add, key passwd), that losing it loses the data;
/// also under --json, where the JSON output repeats it as `warning`.
func warnAboutLostPassphrase() {
    printErr("warning: \(KeyCommand.lostPassphraseWarning)")
}

/// Where a new passphrase comes from: --new-password-file, HAUL_NEW_PASSWORD, or a terminal prompt (twice).
struct NewPassphraseOptions: ParsableArguments {
    @Option(
        name: .long,
        help: "Read the new passphrase from the first line of FILE (default: $HAUL_NEW_PASSWORD, or a prompt).")
    var newPasswordFile: String?

    func read() throws -> [UInt8] {
        if let file = newPasswordFile {
            guard let data = FileManager.default.contents(atPath: file) else {
                throw HaulError(.invalidArgument, "cannot read the new password file \(file)")
            }
            var bytes = [UInt8](data)
            if let nl = bytes.firstIndex(of: 10) { bytes = Array(bytes[..<nl]) }
            if bytes.last == 13 { bytes.removeLast() }
            guard !bytes.isEmpty else { throw HaulError(.invalidArgument, "the new password file \(file) is empty") }
            return bytes
        }
        if let env = ProcessInfo.processInfo.environment["HAUL_NEW_PASSWORD"] {
            guard !env.isEmpty else { throw HaulError(.invalidArgument, "HAUL_NEW_PASSWORD is set but empty") }
            return Array(env.utf8)
        }
        guard isatty(0) == 1 else {
            throw HaulError(
                .invalidArgument,
                "no new passphrase: set HAUL_NEW_PASSWORD, pass --new-password-file FILE, or run on a terminal")
        }
        printErr("Choose a new passphrase. Keep it safe: a lost passphrase means the backups cannot be read by anyone.")
        let first = try prompt("New passphrase: ")
        guard try prompt("Repeat new passphrase: ") == first else {
            throw HaulError(.invalidArgument, "the new passphrases differ; nothing was changed")
        }
        return first
    }

    private func prompt(_ text: String) throws -> [UInt8] {
        guard let p = getpass(text) else {
            throw HaulError(.invalidArgument, "cannot read a passphrase from the terminal")
        }
        let bytes = Array(String(cString: p).utf8)
        guard !bytes.isEmpty else { throw HaulError(.invalidArgument, "empty passphrase") }
        return bytes
    }
}

struct KeyListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list", abstract: "List the key files; * marks the one your passphrase opened.",
        discussion: "Example: haul key list --repo /backup/repo --json")

    @OptionGroup var global: GlobalOptions

    func run() async throws {
        let repository = try await global.openRepository(loadIndex: false)
        let keys = try await repository.listKeys()
        let current = repository.keyID
        if global.json {
            struct Out: Encodable {
                let id: String
                let current: Bool
                let created: Date
                let hostname: String
                let username: String
                let kdf: String
                let parameters: KDFParameters
            }
            try printJSON(
                keys.map {
                    Out(
                        id: $0.id.hex, current: $0.id == current, created: $0.file.created,
                        hostname: $0.file.hostname, username: $0.file.username, kdf: $0.file.kdf,
                        parameters: $0.file.parameters)
                })
            return
        }
        print("  ID                CREATED              HOST             USER             KDF")
        for key in keys {
            let f = key.file
            let t = HaulDate.format(f.created).prefix(19).replacingOccurrences(of: "T", with: " ")
            print(
                "\(key.id == current ? "*" : " ") \(key.id.hex.prefix(16))  \(t)  "
                    + "\(f.hostname.padding(toLength: 16, withPad: " ", startingAt: 0)) "
                    + "\(f.username.padding(toLength: 16, withPad: " ", startingAt: 0)) "
                    + "\(f.kdf) n=\(f.n) r=\(f.r) p=\(f.p)")
        }
        print("\(keys.count) keys; * = the key your passphrase opened")
    }
}

struct KeyAddCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "add", abstract: "Add a passphrase: a new key file wrapping the same master keys.",
        discussion: """
            The current passphrase (--password-file, HAUL_PASSWORD or a prompt) opens the repository; the new one \
            comes from --new-password-file, HAUL_NEW_PASSWORD or a prompt. \(KeyCommand.lostPassphraseWarning)

            Example: haul key add --repo /backup/repo --new-password-file /root/second-passphrase
            """)

    @OptionGroup var global: GlobalOptions
    @OptionGroup var newPassphrase: NewPassphraseOptions

    func run() async throws {
        let repository = try await global.openRepository(loadIndex: false)
        let passphrase = try newPassphrase.read()
        let kdf = KDFParameters.forNewKey()
        let key = try await repository.addKey(
            passphrase: passphrase, kdf: kdf, hostname: Host.currentName, username: Host.userName)
        warnAboutLostPassphrase()
        if global.json {
            struct Out: Encodable {
                let added: String
                let parameters: KDFParameters
                let warning: String
            }
            try printJSON(Out(added: key.id.hex, parameters: kdf, warning: KeyCommand.lostPassphraseWarning))
        } else {
            print("added key \(key.id.hex.prefix(16))")
        }
    }
}

struct KeyRemoveCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "remove", abstract: "Remove a key file (never the one in use, never the last one).",
        discussion: """
            The key your passphrase opened cannot be removed: open the repository with another passphrase first, \
            or replace it with `haul key passwd`.

            Example: haul key remove --repo /backup/repo 1a2b3c4d
            """)

    @OptionGroup var global: GlobalOptions

    @Argument(help: "Key id prefix (at least 4 hex digits), as `haul key list` shows it.")
    var keyID: String

    func run() async throws {
        let repository = try await global.openRepository(loadIndex: false)
        let id = try await repository.resolveKey(keyID)
        try await repository.removeKey(id)
        if global.json {
            struct Out: Encodable { let removed: String }
            try printJSON(Out(removed: id.hex))
        } else {
            print("removed key \(id.hex.prefix(16))")
        }
    }
}

struct KeyPasswdCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "passwd", abstract: "Change the passphrase: add a new key file, then remove the one in use.",
        discussion: """
            The new key file is written before the old one is removed, so a crash leaves both passphrases working, \
            never none. Other key files are untouched. \(KeyCommand.lostPassphraseWarning)

            Example: haul key passwd --repo /backup/repo --new-password-file /root/new-passphrase
            """)

    @OptionGroup var global: GlobalOptions
    @OptionGroup var newPassphrase: NewPassphraseOptions

    func run() async throws {
        let repository = try await global.openRepository(loadIndex: false)
        let old = repository.keyID
        let passphrase = try newPassphrase.read()
        let kdf = KDFParameters.forNewKey()
        let key = try await repository.changePassphrase(
            to: passphrase, kdf: kdf, hostname: Host.currentName, username: Host.userName)
        warnAboutLostPassphrase()
        if global.json {
            struct Out: Encodable {
                let added: String
                let removed: String
                let parameters: KDFParameters
                let warning: String
            }
            try printJSON(
                Out(added: key.id.hex, removed: old.hex, parameters: kdf, warning: KeyCommand.lostPassphraseWarning))
        } else {
            print("added key \(key.id.hex.prefix(16)), removed key \(old.hex.prefix(16))")
        }
    }
}

struct KeyExportRecoveryCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export-recovery",
        abstract: "Write a recovery kit: the key file in use with instructions, to keep apart from the repository.",
        discussion: """
            The kit (JSON, mode 0600) holds the repository id, the key file your passphrase opened (wrapped master \
            keys, scrypt parameters, salt) and how to restore it into keys/ of a copy of the repository that still \
            holds its config. It is as secret as a key file and useless without that key's passphrase. An existing \
            file is never overwritten.

            Example: haul key export-recovery --repo /backup/repo --out /media/usb/haul-recovery.json
            """)

    @OptionGroup var global: GlobalOptions

    @Option(name: .long, help: "The file to create (must not exist).")
    var out: String

    func run() async throws {
        if FileManager.default.fileExists(atPath: out) {
            throw HaulError(.alreadyExists, "\(out) already exists; choose another file for the recovery kit")
        }
        let repository = try await global.openRepository(loadIndex: false)
        let kit = try await repository.recoveryKit()
        try kit.write(toPath: out)
        if global.json {
            struct Out: Encodable {
                let file: String
                let repository: String
                let keyID: String
            }
            try printJSON(Out(file: out, repository: kit.repository, keyID: kit.keyID))
        } else {
            print("wrote the recovery kit of key \(kit.keyID.prefix(16)) to \(out) (mode 0600)")
            print("Keep it apart from the repository; it opens only with that key's passphrase.")
        }
    }
}
