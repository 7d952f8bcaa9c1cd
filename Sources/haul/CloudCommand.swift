import ArgumentParser
import Foundation
import HaulAgent
import HaulClient
import HaulFormat
import HaulProtocol

/// `haul cloud …`: the subscription administrator's commands, run on the administrator's workstation with the admin
/// credential (`hauld admin credential`), never on a protected machine.
struct CloudCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cloud",
        abstract: "Manage the subscription in the service (administrator's workstation, admin credential).",
        discussion: """
            Every subcommand takes --credential FILE, the admin credential written by `hauld admin credential` \
            (JSON, mode 0600; refused when group or others may read it). Keep it off the machines you protect: \
            hand those publish settings instead (`haul cloud publish-settings`).

            Example: haul cloud vault create office --credential ~/haul-admin.json
            """,
        subcommands: [
            PublishSettingsCommand.self, CloudVaultCommand.self, CloudStorageAccountCommand.self,
            CloudContainerCommand.self, CloudServerCommand.self, CloudUsageCommand.self, CloudAuditCommand.self,
        ])
}

/// Options of every `haul cloud` command.
struct CloudOptions: ParsableArguments {
    @Option(name: .long, help: "The admin credential file (from `hauld admin credential`).")
    var credential: String

    @Flag(name: .long, help: "Print machine-readable JSON on standard output.")
    var json = false

    func client() throws -> ServiceClient {
        let credential = try AdminCredential.load(from: self.credential)
        return ServiceClient(session: try credential.session())
    }

    func credentialFile() throws -> AdminCredential { try AdminCredential.load(from: credential) }
}

func resourceName(_ text: String, _ what: String) throws -> ResourceName {
    do {
        return try ResourceName(text)
    } catch let error as HaulError {
        throw ValidationError("\(what): \(error.message)")
    }
}

// MARK: publish-settings

struct PublishSettingsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "publish-settings",
        abstract: "Write, list and revoke the publish-settings files of a vault's site machines.",
        discussion: """
            `haul cloud publish-settings --vault NAME --out FILE` is `create` (the default). A revoked file stops \
            working at once; servers it registered keep their own identities.

            Example: haul cloud publish-settings revoke --vault office 3f1c…e9 --credential ~/haul-admin.json
            """,
        subcommands: [Create.self, List.self, Revoke.self], defaultSubcommand: Create.self)

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write a publish-settings file for site machines of one vault.",
            discussion: """
                Generates a key here, has the service certify it as a `site` identity of the vault (it may register \
                servers into that vault and run the offline-seeding steps; nothing destructive), and writes the XML \
                file with mode 0600. The settings stop working after --expires (default 10d; units m, h, d), or \
                when revoked (`haul cloud publish-settings revoke`).

                Example: haul cloud publish-settings --vault office --expires 10d --out office.publishsettings \
                --credential ~/haul-admin.json
                """)

        @OptionGroup var cloud: CloudOptions

        @Option(name: .long, help: "The vault servers register into.")
        var vault: String

        @Option(name: .long, help: "How long the settings stay valid: 30m, 12h, 10d (at most 365d).")
        var expires = "10d"

        @Option(name: .long, help: "Where to write the settings (must not exist).")
        var out: String

        func run() async throws {
            let vault = try resourceName(self.vault, "--vault")
            guard let lifetime = DurationText.seconds(expires), lifetime > 0 else {
                throw ValidationError("--expires \(expires) is not a duration like 30m, 12h or 10d")
            }
            let credential = try cloud.credentialFile()
            let settings = try await SiteSettingsIssuer.issue(
                credential: credential, vault: vault, expires: Date().addingTimeInterval(lifetime))
            try settings.write(to: out)
            struct Out: Encodable {
                let file: String
                let vault: String
                let expires: Date
                let thumbprint: String
            }
            let thumbprint = try settings.thumbprint()
            if cloud.json {
                try printJSON(
                    Out(file: out, vault: settings.vault.rawValue, expires: settings.expires, thumbprint: thumbprint))
            } else {
                print("wrote publish settings for vault \(settings.vault) to \(out) (mode 0600)")
                print("valid until \(HaulDate.format(settings.expires)); thumbprint \(thumbprint); on each server run:")
                print("  haul register --settings \(out)")
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List the publish settings issued for a vault.",
            discussion: "Example: haul cloud publish-settings list --vault office --credential ~/haul-admin.json")
        @OptionGroup var cloud: CloudOptions
        @Option(name: .long, help: "The vault.") var vault: String

        func run() async throws {
            let credentials = try await cloud.client().siteCredentials(try resourceName(vault, "--vault"))
            if cloud.json { return try printJSON(SiteCredentialList(credentials: credentials)) }
            let now = Date()
            for c in credentials {
                let state = c.revoked ? "revoked" : (c.notAfter <= now ? "expired" : "valid")
                print(
                    "\(c.thumbprint)  \(state)  issued \(HaulDate.format(c.created))  "
                        + "until \(HaulDate.format(c.notAfter))")
            }
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Revoke publish settings: they stop working at once, on every instance of the service.",
            discussion: """
                The thumbprint is printed by `create` and `list`. Servers already registered with the settings keep \
                working (revoke those with `haul cloud server revoke`).

                Example: haul cloud publish-settings revoke 3f1c…e9 --vault office --credential ~/haul-admin.json
                """)
        @OptionGroup var cloud: CloudOptions
        @Argument(help: "The thumbprint of the settings (64 hex digits).") var thumbprint: String
        @Option(name: .long, help: "The vault.") var vault: String

        func run() async throws {
            let thumbprint = thumbprint.lowercased()
            guard thumbprint.count == 64, thumbprint.allSatisfy(\.isHexDigit) else {
                throw ValidationError("\(self.thumbprint) is not a thumbprint of 64 hex digits (see `list`)")
            }
            let revoked = try await cloud.client().revokeSiteCredential(
                try resourceName(vault, "--vault"), thumbprint: thumbprint)
            if cloud.json { return try printJSON(revoked) }
            print("revoked publish settings \(revoked.thumbprint) of vault \(vault)")
        }
    }
}

enum DurationText {
    /// Seconds of `30m`, `12h`, `10d` (or plain seconds), or `nil`.
    static func seconds(_ text: String) -> TimeInterval? {
        guard let unit = text.last else { return nil }
        let factors: [Character: TimeInterval] = ["s": 1, "m": 60, "h": 3600, "d": 86_400]
        if let factor = factors[unit], let n = Double(text.dropLast()) { return n * factor }
        return Double(text)
    }
}

// MARK: vault

struct CloudVaultCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vault", abstract: "Create and list vaults; list and put back deleted objects.",
        subcommands: [Create.self, List.self, Undelete.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a vault.",
            discussion: "Example: haul cloud vault create office --retention-days 30 --credential ~/haul-admin.json")
        @OptionGroup var cloud: CloudOptions
        @Argument(help: "The vault's name: lowercase letters, digits and '-'.") var name: String
        @Option(name: .long, help: "Days deleted objects stay recoverable (at least 14).") var retentionDays: Int?

        func run() async throws {
            let vault = try await cloud.client().createVault(
                try resourceName(name, "vault name"), retentionDays: retentionDays)
            if cloud.json { return try printJSON(vault) }
            print(
                "created vault \(vault.name) (\(vault.id.uuidString.lowercased())), retention \(vault.retentionDays) days"
            )
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List the vaults.", discussion: "Example: haul cloud vault list --credential ~/haul-admin.json")
        @OptionGroup var cloud: CloudOptions

        func run() async throws {
            let vaults = try await cloud.client().vaults()
            if cloud.json { return try printJSON(VaultList(vaults: vaults)) }
            for v in vaults {
                print(
                    "\(v.name)  \(v.id.uuidString.lowercased())  retention \(v.retentionDays)d  created \(HaulDate.format(v.created))"
                )
            }
        }
    }

    struct Undelete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List soft-deleted objects of a vault, or put one back.",
            discussion: """
                Without --id, lists what was deleted or overwritten and until when it can be recovered. With --id, \
                puts that object back (an object now at its path goes to the trash first).

                Example: haul cloud vault undelete office --id 3f0c…  --credential ~/haul-admin.json
                """)
        @OptionGroup var cloud: CloudOptions
        @Argument(help: "The vault.") var vault: String
        @Option(name: .long, help: "The id of the deleted object to restore.") var id: String?

        func run() async throws {
            let client = try cloud.client()
            let vault = try resourceName(self.vault, "vault name")
            if let id {
                guard let uuid = UUID(uuidString: id) else { throw ValidationError("--id \(id) is not a UUID") }
                let restored = try await client.undelete(vault, id: uuid)
                if cloud.json { return try printJSON(restored) }
                print("restored \(restored.objectPath) (\(restored.size) bytes)")
                return
            }
            let objects = try await client.deletedObjects(vault)
            if cloud.json { return try printJSON(DeletedObjectList(objects: objects)) }
            for o in objects {
                print(
                    "\(o.id.uuidString.lowercased())  \(o.objectPath)  \(o.size) B  deleted \(HaulDate.format(o.deletedAt))"
                        + "  recoverable until \(HaulDate.format(o.purgeAfter))")
            }
        }
    }
}

// MARK: storage accounts and containers

struct CloudStorageAccountCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "storage-account", abstract: "Create and list storage accounts.",
        subcommands: [Create.self, List.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a storage account.",
            discussion: "Example: haul cloud storage-account create seed --credential ~/haul-admin.json")
        @OptionGroup var cloud: CloudOptions
        @Argument(help: "The account's name.") var name: String

        func run() async throws {
            let account = try await cloud.client().createStorageAccount(try resourceName(name, "account name"))
            if cloud.json { return try printJSON(account) }
            print("created storage account \(account.name) (\(account.id.uuidString.lowercased()))")
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List storage accounts.",
            discussion: "Example: haul cloud storage-account list --credential ~/haul-admin.json")
        @OptionGroup var cloud: CloudOptions

        func run() async throws {
            let accounts = try await cloud.client().storageAccounts()
            if cloud.json { return try printJSON(StorageAccountList(storageAccounts: accounts)) }
            for a in accounts {
                print("\(a.name)  \(a.id.uuidString.lowercased())  created \(HaulDate.format(a.created))")
            }
        }
    }
}

struct CloudContainerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "container", abstract: "Create and list blob containers of a storage account.",
        subcommands: [Create.self, List.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a container.",
            discussion:
                "Example: haul cloud container create seed-2026 --storage-account seed --credential ~/haul-admin.json")
        @OptionGroup var cloud: CloudOptions
        @Argument(help: "The container's name.") var name: String
        @Option(name: .long, help: "The storage account.") var storageAccount: String

        func run() async throws {
            let container = try await cloud.client().createContainer(
                try resourceName(name, "container name"), in: try resourceName(storageAccount, "--storage-account"))
            if cloud.json { return try printJSON(container) }
            print("created container \(container.name) in \(storageAccount)")
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List the containers of a storage account.",
            discussion: "Example: haul cloud container list --storage-account seed --credential ~/haul-admin.json")
        @OptionGroup var cloud: CloudOptions
        @Option(name: .long, help: "The storage account.") var storageAccount: String

        func run() async throws {
            let containers = try await cloud.client().containers(
                in: try resourceName(storageAccount, "--storage-account"))
            if cloud.json { return try printJSON(ContainerList(containers: containers)) }
            for c in containers {
                print("\(c.name)  \(c.id.uuidString.lowercased())  created \(HaulDate.format(c.created))")
            }
        }
    }
}

// MARK: servers

struct CloudServerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "server", abstract: "List and revoke the servers registered in a vault.",
        subcommands: [List.self, Revoke.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List the servers of a vault.",
            discussion: "Example: haul cloud server list --vault office --credential ~/haul-admin.json")
        @OptionGroup var cloud: CloudOptions
        @Option(name: .long, help: "The vault.") var vault: String

        func run() async throws {
            let servers = try await cloud.client().servers(try resourceName(vault, "--vault"))
            if cloud.json { return try printJSON(ServerList(servers: servers)) }
            for s in servers {
                print(
                    "\(s.name)  \(s.id.uuidString.lowercased())  \(s.revoked ? "revoked" : "active")  "
                        + "registered \(HaulDate.format(s.created))")
            }
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Revoke a server's identity (its tokens stop working at once; its backups stay).",
            discussion: "Example: haul cloud server revoke web-1 --vault office --credential ~/haul-admin.json")
        @OptionGroup var cloud: CloudOptions
        @Argument(help: "The server's name.") var name: String
        @Option(name: .long, help: "The vault.") var vault: String

        func run() async throws {
            let server = try await cloud.client().revokeServer(
                try resourceName(vault, "--vault"), server: try resourceName(name, "server name"))
            if cloud.json { return try printJSON(server) }
            print(
                "revoked server \(server.name); attach a replacement with `haul register --settings FILE --recover \(server.name)`"
            )
        }
    }
}

// MARK: usage and audit

struct CloudUsageCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "usage", abstract: "Show bytes and objects stored per vault and server.",
        discussion: "Example: haul cloud usage --credential ~/haul-admin.json")
    @OptionGroup var cloud: CloudOptions
    @Option(name: .long, help: "Only this vault (default: every vault).") var vault: String?

    func run() async throws {
        let client = try cloud.client()
        let names: [ResourceName]
        if let vault {
            names = [try resourceName(vault, "--vault")]
        } else {
            names = try await client.vaults().map(\.name)
        }
        var usages: [VaultUsage] = []
        for name in names { usages.append(try await client.usage(name)) }
        if cloud.json { return try printJSON(usages) }
        for u in usages {
            print("\(u.vault)  \(formatBytes(UInt64(max(0, u.bytes))))  \(u.objects) objects")
            for s in u.servers { print("  \(s.name)  \(formatBytes(UInt64(max(0, s.bytes))))  \(s.objects) objects") }
        }
    }
}

struct CloudAuditCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit", abstract: "Show the subscription's audit log, oldest first.",
        discussion: "Example: haul cloud audit --after 120 --credential ~/haul-admin.json")
    @OptionGroup var cloud: CloudOptions
    @Option(name: .long, help: "Only events after this sequence number.") var after: Int64?
    @Option(name: .long, help: "At most this many events.") var limit: Int?

    func run() async throws {
        let events = try await cloud.client().audit(after: after, limit: limit)
        if cloud.json { return try printJSON(AuditPage(events: events, next: nil)) }
        for e in events {
            print("\(e.sequence)  \(HaulDate.format(e.time))  \(e.actor)  \(e.action)  \(e.target)  \(e.detail)")
        }
    }
}
