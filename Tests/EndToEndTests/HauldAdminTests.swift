import Foundation
import Glibc
import HaulAgent
import HaulFormat
import HaulProtocol
import Testing

/// `hauld admin subscription list`, `operator create`, `datacenter set` and `hauld serve --tls-cert/--tls-key`, with
/// the real executables; the service is checked from outside with curl and openssl.
@Suite(.serialized) struct HauldAdminTests {
    typealias Tools = ServiceTestTools

    @Test func subscriptionListShowsWhatWasCreated() throws {
        let scratch = try ScratchDirectory()
        let data = scratch("service")
        func admin(_ arguments: [String]) throws -> ProcessOutcome { try Tools.hauld(arguments + ["--data", data]) }

        let empty = try admin(["admin", "subscription", "list", "--json"])
        #expect(empty.status == 0, "\(empty.stderr)")
        #expect((try JSONSerialization.jsonObject(with: Data(empty.stdout.utf8)) as? [Any])?.isEmpty == true)

        var ids: [String: String] = [:]
        for name in ["globex", "acme"] {
            let created = try admin(["admin", "subscription", "create", name, "--json"])
            #expect(created.status == 0, "\(created.stderr)")
            let object = try JSONSerialization.jsonObject(with: Data(created.stdout.utf8)) as? [String: Any]
            #expect(object?["name"] as? String == name)
            // JSON spells the UUID in upper case, the text list in lower case: compare them as UUIDs.
            ids[name] = try #require((object?["id"] as? String).flatMap { UUID(uuidString: $0) }).uuidString
                .lowercased()
        }
        // Text: one "id  name" line each, by name.
        let text = try admin(["admin", "subscription", "list"])
        #expect(text.status == 0, "\(text.stderr)")
        let lines = text.stdout.split(separator: "\n").map(String.init)
        #expect(lines == ["\(ids["acme"]!)  acme", "\(ids["globex"]!)  globex"])
        // JSON: the same, with the creation time.
        let json = try admin(["admin", "subscription", "list", "--json"])
        #expect(json.status == 0, "\(json.stderr)")
        let list = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [[String: Any]])
        #expect(list.map { $0["name"] as? String } == ["acme", "globex"])
        #expect(list.map { ($0["id"] as? String)?.lowercased() } == [ids["acme"], ids["globex"]])
        #expect(list.allSatisfy { ($0["created"] as? String).flatMap(HaulDate.parse) != nil })

        // An invalid name is refused (exit 1, the JSON error on standard error) and adds nothing.
        let invalid = try admin(["admin", "subscription", "create", "Bad_Name", "--json"])
        #expect(invalid.status == 1)
        let error = (try? JSONSerialization.jsonObject(with: Data(invalid.stderr.utf8)) as? [String: Any])?["error"]
        #expect((error as? [String: Any])?["code"] as? String == "invalidArgument", "\(invalid.stderr)")
        let text2 = try admin(["admin", "subscription", "create", "Bad_Name"])
        #expect(text2.status == 1)
        #expect(text2.stderr.hasPrefix("hauld: "), "\(text2.stderr)")
        let after = try admin(["admin", "subscription", "list", "--json"])
        #expect((try JSONSerialization.jsonObject(with: Data(after.stdout.utf8)) as? [Any])?.count == 2)
    }

    @Test func operatorCredentialAndDatacenterAddress() async throws {
        let scratch = try ScratchDirectory()
        let service = try HauldProcess(data: scratch("service"))
        let pin = try Tools.opensslPin(certificate: service.data + "/tls/cert.pem")
        let out = scratch("alice.json")
        let written = try Tools.hauld([
            "admin", "operator", "create", "dc-alice", "--out", out, "--url", service.url, "--data", service.data,
            "--json",
        ])
        #expect(written.status == 0, "\(written.stderr)")
        let summary = try JSONSerialization.jsonObject(with: Data(written.stdout.utf8)) as? [String: Any]
        #expect(summary?["path"] as? String == out)

        // The file: mode 0600, an operator credential for this service, its key matching its certificate.
        var st = stat()
        #expect(stat(out, &st) == 0 && st.st_mode & 0o777 == 0o600)
        let credential = try HaulJSON.decoder().decode(
            OperatorCredential.self, from: try Data(contentsOf: URL(fileURLWithPath: out)))
        #expect(credential.version == 1)
        #expect(credential.name == "dc-alice")
        #expect(credential.operatorId == (summary?["operatorId"] as? String).flatMap { UUID(uuidString: $0) })
        #expect(credential.serviceURL == service.url)
        #expect(credential.pins == [pin])
        #expect(
            credential.caCertificatePEM == (try String(contentsOfFile: service.data + "/ca/cert.pem", encoding: .utf8)))
        let identity = try CallerIdentity(keyPEM: credential.privateKeyPEM, certificatePEM: credential.certificatePEM)
        #expect(identity.certificate.subjectCommonName == "operator \(credential.operatorId.uuidString.lowercased())")

        // The credential works: the token says operator; the operator reaches no subscription's routes.
        let token = try await Tools.token(
            url: service.url, pin: pin, keyPEM: credential.privateKeyPEM, certificatePEM: credential.certificatePEM)
        let me = try Tools.curl("GET", service.url + APIRoute.me, pin: pin, token: token)
        #expect(me.status == 200, "\(me.body)")
        let caller = try HaulJSON.decoder().decode(CallerInfo.self, from: Data(me.body.utf8))
        #expect(caller.role == .operator)
        #expect(caller.subject == credential.operatorId.uuidString.lowercased())
        #expect(caller.subscription == nil)
        #expect(try Tools.curl("GET", service.url + APIRoute.vaults, pin: pin, token: token).status == 403)

        // No datacenter yet; then set, read back; set again replaces it.
        let before = try Tools.curl("GET", service.url + APIRoute.datacenter, pin: pin, token: token)
        #expect(before.status == 404, "\(before.body)")
        #expect(before.body.contains("\"notFound\""))
        let address = "Haul DC1, 1 Dock Rd, Springfield"
        let set = try Tools.hauld([
            "admin", "datacenter", "set", "--name", "dc1", "--address", address, "--data", service.data, "--json",
        ])
        #expect(set.status == 0, "\(set.stderr)")
        let setInfo = try JSONSerialization.jsonObject(with: Data(set.stdout.utf8)) as? [String: Any]
        #expect(setInfo?["address"] as? String == address)
        let dc = try Tools.curl("GET", service.url + APIRoute.datacenter, pin: pin, token: token)
        #expect(dc.status == 200, "\(dc.body)")
        #expect(
            try HaulJSON.decoder().decode(DatacenterInfo.self, from: Data(dc.body.utf8))
                == DatacenterInfo(name: "dc1", address: address))
        let moved = try Tools.hauld([
            "admin", "datacenter", "set", "--name", "dc2", "--address", "2 Quay St, Shelbyville", "--data",
            service.data,
        ])
        #expect(moved.status == 0, "\(moved.stderr)")
        #expect(moved.stdout.contains("dc2"))
        let dc2 = try Tools.curl("GET", service.url + APIRoute.datacenter, pin: pin, token: token)
        #expect(
            try HaulJSON.decoder().decode(DatacenterInfo.self, from: Data(dc2.body.utf8))
                == DatacenterInfo(name: "dc2", address: "2 Quay St, Shelbyville"))
        // An empty address is refused and changes nothing.
        let emptyAddress = try Tools.hauld([
            "admin", "datacenter", "set", "--name", "dc3", "--address", "", "--data", service.data,
        ])
        #expect(emptyAddress.status == 1)
        #expect(emptyAddress.stderr.contains("address"), "\(emptyAddress.stderr)")
        let dc3 = try Tools.curl("GET", service.url + APIRoute.datacenter, pin: pin, token: token)
        #expect(dc3.body.contains("dc2"))
        // A subscription admin reads it too (any token).
        let subscription = try Tools.createSubscription(service, "acme")
        try service.admin([
            "admin", "credential", "--subscription", subscription, "--out", scratch("admin.json"), "--url", service.url,
        ])
        let admin = try HaulJSON.decoder().decode(
            AdminCredential.self, from: try Data(contentsOf: URL(fileURLWithPath: scratch("admin.json"))))
        let adminToken = try await Tools.token(
            url: service.url, pin: pin, keyPEM: admin.privateKeyPEM, certificatePEM: admin.certificatePEM)
        #expect(try Tools.curl("GET", service.url + APIRoute.datacenter, pin: pin, token: adminToken).body == dc2.body)
    }

    @Test func serveWithGivenCertificateAndKey() throws {
        let scratch = try ScratchDirectory()
        let key = scratch("tls-key.pem")
        let certificate = scratch("tls-cert.pem")
        try Tools.opensslCertificate(key: key, certificate: certificate)
        let pin = try Tools.opensslPin(certificate: certificate)
        let data = scratch("service")
        let service = try HauldProcess(
            data: data, arguments: ["--tls-cert", certificate, "--tls-key", key, "--json"])

        // The service presents exactly that certificate, says its pin, and made no TLS files of its own.
        #expect(try Tools.presentedFingerprint(port: service.port) == (try Tools.fingerprint(certificate: certificate)))
        let log = try String(contentsOfFile: service.log, encoding: .utf8)
        #expect(log.contains("\"pin\" : \"\(pin)\""), "\(log)")
        #expect(!FileManager.default.fileExists(atPath: data + "/tls/cert.pem"))
        let health = try Tools.curl("GET", service.url + APIRoute.healthz, pin: pin)
        #expect(health.status == 200)

        // An admin credential pinning that certificate works with `haul`.
        let subscription = try Tools.createSubscription(service, "acme")
        let pinned = scratch("pinned.json")
        try service.admin([
            "admin", "credential", "--subscription", subscription, "--out", pinned, "--url", service.url,
            "--tls-cert", certificate,
        ])
        let credential = try HaulJSON.decoder().decode(
            AdminCredential.self, from: try Data(contentsOf: URL(fileURLWithPath: pinned)))
        #expect(credential.pins == [pin])
        var haul = HaulProcess(repo: "")
        haul.environment["HAUL_STATE_DIR"] = scratch("admin-state")
        let create = try haul.run(["cloud", "vault", "create", "office", "--credential", pinned])
        #expect(create.status == 0, "\(create.stderr)")
        // One pinning DIR/tls/cert.pem (made now by the admin command) is refused: that key is not the one served.
        let other = scratch("other.json")
        try service.admin(["admin", "credential", "--subscription", subscription, "--out", other, "--url", service.url])
        let refused = try haul.run(["cloud", "vault", "list", "--credential", other])
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("not pinned"), "\(refused.stderr)")
    }

    @Test func serveRefusesBadTLSFiles() throws {
        let scratch = try ScratchDirectory()
        let key = scratch("key.pem")
        let certificate = scratch("cert.pem")
        try Tools.opensslCertificate(key: key, certificate: certificate)
        let otherKey = scratch("other-key.pem")
        try Tools.opensslCertificate(key: otherKey, certificate: scratch("other-cert.pem"))
        let rsaKey = scratch("rsa-key.pem")
        let rsaCertificate = scratch("rsa-cert.pem")
        try Tools.opensslCertificate(key: rsaKey, certificate: rsaCertificate, curve: "rsa")
        let openKey = scratch("open-key.pem")
        try FileManager.default.copyItem(atPath: key, toPath: openKey)
        #expect(chmod(openKey, 0o644) == 0)
        let missing = scratch("missing-key.pem")
        let port = try HauldProcess.freePort()

        func serve(_ tls: [String], json: Bool = false) throws -> ProcessOutcome {
            try Tools.hauld(
                ["serve", "--data", scratch("service"), "--listen", "127.0.0.1:\(port)"] + tls
                    + (json ? ["--json"] : []),
                timeout: 30)
        }
        // Each refusal: exit 1 before listening, and a message naming the file.
        let cases: [(String, [String], [String])] = [
            ("missing key", ["--tls-cert", certificate, "--tls-key", missing], [missing]),
            ("another key", ["--tls-cert", certificate, "--tls-key", otherKey], [otherKey, certificate]),
            ("key readable by others", ["--tls-cert", certificate, "--tls-key", openKey], [openKey, "chmod 600"]),
            (
                "missing certificate", ["--tls-cert", scratch("nothing.pem"), "--tls-key", key],
                [scratch("nothing.pem")]
            ),
            ("RSA key", ["--tls-cert", rsaCertificate, "--tls-key", rsaKey], [rsaKey, "P-256"]),
        ]
        for (what, tls, mentions) in cases {
            let outcome = try serve(tls)
            #expect(outcome.status == 1, "\(what): \(outcome.stderr)")
            #expect(outcome.stderr.hasPrefix("hauld: "), "\(what): \(outcome.stderr)")
            for text in mentions { #expect(outcome.stderr.contains(text), "\(what): \(outcome.stderr)") }
            #expect(!outcome.stdout.contains("listening"), "\(what)")
        }
        // With --json the refusal is the error object on standard error.
        let json = try serve(["--tls-cert", certificate, "--tls-key", missing], json: true)
        #expect(json.status == 1)
        let object = try JSONSerialization.jsonObject(with: Data(json.stderr.utf8)) as? [String: Any]
        let error = object?["error"] as? [String: Any]
        #expect(error?["code"] as? String == "notFound", "\(json.stderr)")
        #expect((error?["message"] as? String)?.contains(missing) == true)
        // Only one of the two is a usage error.
        let half = try serve(["--tls-cert", certificate])
        #expect(half.status == 64, "\(half.stderr)")
        #expect(half.stderr.contains("--tls-key"), "\(half.stderr)")
    }
}
