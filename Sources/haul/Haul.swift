import ArgumentParser
import CLinux
import Foundation
import Glibc
import HaulAgent
import HaulFormat

@main
struct Haul: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "haul",
        abstract: "Deduplicating, compressed, end-to-end encrypted backups, seeded offline.",
        discussion: """
            Every command works on a repository given by --repo DIR or HAUL_REPO, or, on a machine registered with \
            a vault (`haul register`), on its repository in the vault (--vault, or when neither --repo nor \
            HAUL_REPO is given; docs/agent.md). The passphrase comes from HAUL_PASSWORD, --password-file FILE, or \
            a prompt on a terminal. Exit codes are listed in docs/exit-codes.md.
            """,
        subcommands: [
            InitCommand.self, BackupCommand.self, SnapshotsCommand.self, LsCommand.self, RestoreCommand.self,
            CheckCommand.self, ForgetCommand.self, PruneCommand.self,
            KeyCommand.self, UnlockCommand.self,
            StatsCommand.self, DiffCommand.self, FindCommand.self, DumpCommand.self,
            RepairCommand.self,
            RegisterCommand.self, CloudCommand.self,
        ]
    )

    /// Runs the command and maps library errors to the exit codes of docs/exit-codes.md.
    static func main() async {
        // Stopping at once is as safe as a crash (format.md §11); leases of dead processes are stale at once.
        // Buffers up to a few MiB (most chunks, compressed blobs, sealed boxes, 1-2 MiB read and write blocks) come
        // and go all the time; with glibc's defaults each is an mmap/munmap pair plus page faults (PLATFORM.md: 6x
        // slower sealing). Keep them in the heap, but not those over 4 MiB (a whole small file's read buffer, chunks
        // of up to 8 MiB, whole packs, growing tables): with a 32 MiB threshold they left the heap fragmented, and a
        // backup of the 2 GiB mixed tree ended at 150-180 MiB of peak RSS, against 119-125 MiB with 4 MiB, in the
        // same time or less (bench/RESULTS.md, 2026-12-07).
        _ = haul_mallopt(haul_m_mmap_threshold(), 4 << 20)
        _ = haul_mallopt(haul_m_trim_threshold(), 64 << 20)
        signal(SIGINT) { _ in _exit(130) }
        signal(SIGTERM) { _ in _exit(130) }
        let wantsJSON = CommandLine.arguments.contains("--json")
        // `dump` writes data to standard output, so its JSON goes to standard error (docs/exit-codes.md).
        let jsonStream: FileHandle =
            CommandLine.arguments.dropFirst().first == "dump" ? .standardError : .standardOutput
        do {
            var command = try parseAsRoot()
            if var async = command as? any AsyncParsableCommand {
                try await async.run()
            } else {
                try command.run()
            }
        } catch let error as HaulError {
            if wantsJSON {
                try? printJSON(JSONError(code: error.code.rawValue, message: error.description), to: jsonStream)
            }
            // Where standard error carries the JSON (dump), it carries nothing else.
            if !wantsJSON || jsonStream !== FileHandle.standardError {
                FileHandle.standardError.write(Data("haul: \(error.description)\n".utf8))
            }
            Foundation.exit(ExitStatus.code(for: error))
        } catch {
            // Usage errors (ValidationError, unknown options, missing arguments) as JSON too; not `--help` (exit 0)
            // and not an ExitCode a command throws after printing its own JSON.
            if wantsJSON, !(error is ExitCode), exitCode(for: error) == .validationFailure {
                try? printJSON(JSONError(code: "usage", message: message(for: error)), to: jsonStream)
                if jsonStream === FileHandle.standardError { Foundation.exit(exitCode(for: error).rawValue) }
            }
            exit(withError: error)
        }
    }
}

/// `{"error": {"code": …, "message": …}}`, how every command reports a failure under `--json`.
struct JSONError: Encodable {
    struct Inner: Encodable {
        let code: String
        let message: String
    }
    let error: Inner
    init(code: String, message: String) { error = Inner(code: code, message: message) }
}

enum ExitStatus {
    static let ok: Int32 = 0
    static let fatal: Int32 = 1
    static let warnings: Int32 = 3
    static let repositoryNotFound: Int32 = 10
    static let repositoryBusy: Int32 = 11
    static let wrongPassword: Int32 = 12
    static let interrupted: Int32 = 130

    static func code(for error: HaulError) -> Int32 {
        switch error.code {
        case .wrongPassword: wrongPassword
        case .repositoryNotFound, .notRegistered: repositoryNotFound
        case .repositoryBusy: repositoryBusy
        case .interrupted: interrupted
        default: fatal
        }
    }
}
