import Foundation
import Glibc
import Testing

/// The live progress line on a terminal: backup (with an ETA from the previous snapshot's size) and restore.
@Suite(.serialized) struct ProgressTests {
    /// Runs `haul args…` on a pseudo-terminal (util-linux `script`) and returns its exit status and everything it
    /// wrote there (standard output and standard error together).
    func onTerminal(_ haul: HaulProcess, _ args: [String]) throws -> (Int32, String) {
        let script = Process()
        script.executableURL = URL(fileURLWithPath: "/usr/bin/script")
        let command = ([HaulProcess.executable] + args).map { "'\($0)'" }.joined(separator: " ")
        script.arguments = ["-qec", command, "/dev/null"]
        script.environment = haul.environmentForRun()
        let out = Pipe()
        script.standardOutput = out
        script.standardInput = FileHandle.nullDevice
        try script.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        script.waitUntilExit()
        return (script.terminationStatus, text)
    }

    /// The progress lines drawn (each starts with a carriage return and an erase-line sequence and ends with the
    /// rate; the summary printed after the last erase does not).
    func progressLines(_ text: String) -> [String] {
        text.components(separatedBy: "\r\u{1B}[K").dropFirst().map {
            String($0.prefix { $0 != "\r" && $0 != "\n" })
        }.filter { $0.hasSuffix("/s") }
    }

    func makeSource(_ dir: String) throws -> String {
        let src = dir + "/src"
        try FileManager.default.createDirectory(atPath: src, withIntermediateDirectories: true)
        var x: UInt64 = 0x9E37_79B9_7F4A_7C15
        let bytes = (0..<(4 << 20)).map { _ -> UInt8 in
            x ^= x << 13
            x ^= x >> 7
            x ^= x << 17
            return UInt8(truncatingIfNeeded: x)
        }
        try Data(bytes).write(to: URL(fileURLWithPath: src + "/a.bin"))
        try "small\n".write(toFile: src + "/b.txt", atomically: true, encoding: .utf8)
        return src
    }

    @Test func restoreShowsAProgressLineWithItsTotalOnATerminal() throws {
        let dir = NSTemporaryDirectory() + "haul-e2e-restoreprogress-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let src = try makeSource(dir)
        let haul = HaulProcess(repo: dir + "/repo")
        #expect(try haul.run(["init"]).status == 0)
        #expect(try haul.run(["backup", src, "--quiet"]).status == 0)

        // Off a terminal: the summary only.
        let plain = try haul.run(["restore", "latest", "--target", dir + "/plain"])
        #expect(plain.status == 0)
        #expect(!plain.stderr.contains("\r"))
        #expect(plain.out.contains("restored snapshot"))

        let (status, text) = try onTerminal(haul, ["restore", "latest", "--target", dir + "/tty"])
        #expect(status == 0, "\(text)")
        let lines = progressLines(text)
        #expect(!lines.isEmpty, "\(text.debugDescription)")
        #expect(lines.allSatisfy { $0.hasPrefix("restored ") && $0.contains(" files, ") && $0.hasSuffix("/s") })
        // Restore knows its total before it writes: 4 MiB + 6 bytes.
        #expect(lines.contains { $0.contains(" of 4.0 MiB (") }, "\(lines)")
        // Every line drawn once bytes flow (a rate above zero) has an ETA.
        for line in lines where line.contains(" of ") && !line.hasSuffix(" 0 B/s") {
            #expect(line.contains(", ETA "), "\(line)")
        }
        #expect(text.contains("restored snapshot"))
        #expect(
            FileManager.default.contents(atPath: dir + "/tty/src/a.bin")
                == FileManager.default.contents(atPath: src + "/a.bin"))
    }

    @Test func backupProgressTakesItsTotalFromThePreviousSnapshot() throws {
        let dir = NSTemporaryDirectory() + "haul-e2e-backupprogress-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let src = try makeSource(dir)
        let haul = HaulProcess(repo: dir + "/repo")
        #expect(try haul.run(["init"]).status == 0)
        // The first backup has no estimate: no total, no ETA.
        let (first, firstText) = try onTerminal(haul, ["backup", src])
        #expect(first == 0)
        let firstLines = progressLines(firstText)
        #expect(!firstLines.isEmpty)
        #expect(!firstLines.contains { $0.contains(" of ") || $0.contains("ETA") }, "\(firstLines)")
        // The next one (even with --force, which reads everything again) estimates its total from the first.
        let (second, text) = try onTerminal(haul, ["backup", "--force", src])
        #expect(second == 0, "\(text)")
        let lines = progressLines(text)
        #expect(lines.contains { $0.contains(" of 4.0 MiB (") }, "\(lines)")
        for line in lines where line.contains(" of ") && !line.hasSuffix(" 0 B/s") {
            #expect(line.contains(", ETA "), "\(line)")
        }
    }
}
