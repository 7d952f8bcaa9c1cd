import ArgumentParser
import Foundation
import Glibc
import HaulAgent
import HaulCrypto
import HaulFormat
import HaulRepository
import HaulStorage
import HaulStorageFS

/// Options every command takes.
struct GlobalOptions: ParsableArguments {
    @Option(name: .long, help: "Repository directory (default: $HAUL_REPO, else the registered vault).")
    var repo: String?

    @Flag(name: .long, help: "Use this machine's repository in the vault (`haul register`), even if HAUL_REPO is set.")
    var vault = false

    @Option(
        name: .long, help: "Read the passphrase from the first line of FILE (default: $HAUL_PASSWORD, or a prompt).")
    var passwordFile: String?

    @Flag(name: .long, help: "Print machine-readable JSON on standard output.")
    var json = false

    @Flag(name: .shortAndLong, help: "Print less (no progress line).")
    var quiet = false

    /// Where the repository is: the rule of docs/agent.md §4.
    enum Location {
        case directory(String)
        case vault(AgentState)

        var description: String {
            switch self {
            case .directory(let path): path
            case .vault(let state): "the vault (registration in \(state.path))"
            }
        }
    }

    /// `--repo DIR`, then `--vault`, then `HAUL_REPO`, then the registration in the state directory.
    func location() throws -> Location {
        if vault {
            if repo != nil { throw ValidationError("give either --repo DIR or --vault, not both") }
            return .vault(AgentState.fromEnvironment())
        }
        if let repo, !repo.isEmpty { return .directory(repo) }
        if let env = ProcessInfo.processInfo.environment["HAUL_REPO"], !env.isEmpty { return .directory(env) }
        let state = AgentState.fromEnvironment()
        if state.isRegistered { return .vault(state) }
        throw HaulError(
            .repositoryNotFound,
            "no repository given: pass --repo DIR, set HAUL_REPO (create one with `haul init`), or register this "
                + "machine with a vault (`haul register --settings FILE`)")
    }

    /// The repository directory when the repository is local.
    func repositoryPath() throws -> String {
        guard case .directory(let path) = try location() else {
            throw ValidationError("this command works on a local repository: pass --repo DIR or set HAUL_REPO")
        }
        return path
    }

    func store(create: Bool = false) throws -> any BlobStore {
        switch try location() {
        case .vault(let state):
            return try state.vaultStore()
        case .directory(let path):
            if create {
                try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
            } else {
                var isDir: ObjCBool = false
                guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir), isDir.boolValue else {
                    throw HaulError(
                        .repositoryNotFound,
                        "repository \(path) does not exist; create it with `haul init --repo \(path)`")
                }
            }
            return try FileSystemBlobStore(root: path)
        }
    }

    /// The passphrase from $HAUL_PASSWORD, --password-file or a terminal prompt (twice when `confirm`).
    func passphrase(confirm: Bool = false) throws -> [UInt8] {
        try Passphrase.read(passwordFile: passwordFile, confirm: confirm)
    }

    /// Opens the repository and loads its index.
    func openRepository(loadIndex: Bool = true) async throws -> Repository {
        let store = try self.store()
        let repository = try await Repository.open(
            store: store, passphrase: try passphrase(), cacheDirectory: LocalCache.defaultDirectory())
        if loadIndex { try await repository.loadIndex() }
        return repository
    }

    func leases(_ repository: Repository) -> LeaseManager {
        LeaseManager(store: repository.store, hostname: Host.currentName, user: Host.userName)
    }

    var showProgress: Bool { !quiet && !json && isatty(2) == 1 }
}

enum Host {
    static var currentName: String { ProcessInfo.processInfo.hostName }
    static var userName: String { ProcessInfo.processInfo.environment["USER"] ?? NSUserName() }
}

/// Writes JSON to standard output (or `handle`).
func printJSON<T: Encodable>(_ value: T, to handle: FileHandle = .standardOutput) throws {
    let encoder = JSONEncoder.haul
    encoder.outputFormatting.insert(.prettyPrinted)
    handle.write(try encoder.encode(value) + Data("\n".utf8))
}

func printErr(_ s: String) { FileHandle.standardError.write(Data((s + "\n").utf8)) }

/// The bytes of command-line values, without loss. Arguments are bytes on Linux, but ArgumentParser hands out
/// `String`s decoded from `CommandLine.arguments`, where bytes that are not UTF-8 became U+FFFD. Each value holding
/// U+FFFD is matched, in order, to the raw argument in `CommandLine.unsafeArgv` (or the part after `=` of
/// `--option=value`) that decodes to it; the raw bytes are returned. Repeated options and positional lists come in
/// command-line order, so two names that decode alike still get their own bytes.
func argumentBytes(_ values: [String]) -> [[UInt8]] {
    var used = Set<Int>()
    return values.map { value in
        guard value.contains("\u{FFFD}") else { return Array(value.utf8) }
        for (i, raw) in RawArguments.candidates.enumerated() where !used.contains(i) {
            if String(decoding: raw, as: UTF8.self) == value {
                used.insert(i)
                return raw
            }
        }
        return Array(value.utf8)
    }
}

/// The bytes of one command-line value, without loss (see `argumentBytes(_:)` for lists).
func argumentBytes(_ value: String) -> [UInt8] { argumentBytes([value])[0] }

/// The process's arguments as the kernel passed them.
enum RawArguments {
    /// Every argument after the command name, and for `--option=value` also `value`, in command-line order.
    static let candidates: [[UInt8]] = {
        var out: [[UInt8]] = []
        for i in 1..<Int(CommandLine.argc) {
            guard let p = CommandLine.unsafeArgv[i] else { continue }
            let raw = Array(UnsafeRawBufferPointer(start: p, count: strlen(p)))
            out.append(raw)
            if raw.first == UInt8(ascii: "-"), let eq = raw.firstIndex(of: UInt8(ascii: "=")) {
                out.append(Array(raw[(eq + 1)...]))
            }
        }
        return out
    }()

    /// The current directory's bytes (`getcwd`), which need not be UTF-8 either.
    static func currentDirectory() -> [UInt8] {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        guard getcwd(&buffer, buffer.count) != nil else {
            return Array(FileManager.default.currentDirectoryPath.utf8)
        }
        return buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
    }
}

func formatBytes(_ n: UInt64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"]
    var v = Double(n)
    var i = 0
    while v >= 1024 && i < units.count - 1 {
        v /= 1024
        i += 1
    }
    return i == 0 ? "\(n) B" : String(format: "%.1f %@", v, units[i])
}

enum Passphrase {
    /// The passphrase from $HAUL_PASSWORD, --password-file or a terminal prompt (twice when `confirm`).
    static func read(passwordFile: String?, confirm: Bool) throws -> [UInt8] {
        if let file = passwordFile {
            guard let data = FileManager.default.contents(atPath: file) else {
                throw HaulError(.invalidArgument, "cannot read the password file \(file)")
            }
            var bytes = [UInt8](data)
            if let nl = bytes.firstIndex(of: 10) { bytes = Array(bytes[..<nl]) }
            if bytes.last == 13 { bytes.removeLast() }
            guard !bytes.isEmpty else { throw HaulError(.invalidArgument, "the password file \(file) is empty") }
            return bytes
        }
        if let env = ProcessInfo.processInfo.environment["HAUL_PASSWORD"] {
            guard !env.isEmpty else { throw HaulError(.invalidArgument, "HAUL_PASSWORD is set but empty") }
            return Array(env.utf8)
        }
        guard isatty(0) == 1 else {
            throw HaulError(
                .invalidArgument, "no passphrase: set HAUL_PASSWORD, pass --password-file FILE, or run on a terminal")
        }
        if confirm {
            FileHandle.standardError.write(
                Data(
                    "Choose a passphrase. Keep it safe: a lost passphrase means the backups cannot be read by anyone.\n"
                        .utf8))
        }
        let first = try prompt("Passphrase: ")
        if confirm {
            guard try prompt("Repeat passphrase: ") == first else {
                throw HaulError(.invalidArgument, "the passphrases differ")
            }
        }
        return first
    }

    private static func prompt(_ text: String) throws -> [UInt8] {
        guard let p = getpass(text) else {
            throw HaulError(.invalidArgument, "cannot read a passphrase from the terminal")
        }
        let bytes = Array(String(cString: p).utf8)
        guard !bytes.isEmpty else { throw HaulError(.invalidArgument, "empty passphrase") }
        return bytes
    }
}
