import Foundation
import Testing

/// One run of `Deploy/xen/run-harness.sh`: Xen 4.17 and a Debian dom0 booted under QEMU (TCG),
/// with dom0 running a proof script: Xen's own `xl` (`Deploy/xen/proof-xl.sh`) or Flock's driver
/// through the built flockctl (`Deploy/xen/proof-flockctl.sh`). It is slow (minutes: the first
/// run also debootstraps the dom0), so each suite shares one run between its tests, and the two
/// runs take turns: two TCG machines at once on two cores would slow each other past the limits.
struct HarnessRun: Sendable, CustomTestStringConvertible {
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// One `FLOCK-RESULT {"check":…,"ok":…,"detail":…}` line.
    struct Check: Sendable {
        var name: String
        var ok: Bool
        var detail: String
    }

    var status: Int32
    var output: String
    var checks: [String: Check]
    /// `FLOCK-RESULT {"measure":…,"seconds":…}` lines, and the harness's own FLOCK-TIME lines.
    var seconds: [String: Double]
    /// The final `FLOCK-SUMMARY` object, if the proof got that far.
    var summary: [String: Any]? { summaryJSON.flatMap { Self.object($0) } }
    private var summaryJSON: String?

    /// The `xl` proof, started by the first test that asks.
    static let xl = Task { try await HarnessRun.start(proof: "proof-xl.sh") }
    /// The FlockXen proof, after the `xl` one (whatever became of it).
    static let driver = Task {
        _ = try? await xl.value
        return try await HarnessRun.start(proof: "proof-flockctl.sh", flockctl: builtFlockctl())
    }

    /// The flockctl this test build made (its bin directory holds the test runner too).
    static func builtFlockctl() throws -> String {
        let runner = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        var directory = runner.deletingLastPathComponent()
        for _ in 0..<4 {
            let candidate = directory.appendingPathComponent("flockctl").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            directory.deleteLastPathComponent()
        }
        throw Failure(description: "flockctl is not built (swift build --build-tests builds it)")
    }

    static var repository: String {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }

    /// Runs the harness (argument vector, no shell line) on a GCD thread and parses its output.
    /// The harness bounds itself (`--timeout`); this adds a hard limit on top, for the builds.
    static func start(proof: String, flockctl: String? = nil) async throws -> HarnessRun {
        let keep = FileManager.default.temporaryDirectory.appendingPathComponent("flock-xen-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: keep, withIntermediateDirectories: true)
        let script = repository + "/Deploy/xen/run-harness.sh"
        let arguments =
            [script, "--proof", proof, "--timeout", "1500", "--keep", keep.path]
            + (flockctl.map { ["--flockctl", $0] } ?? [])
        let (status, output): (Int32, String) = try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async {
                continuation.resume(with: Result { try run("/bin/bash", arguments, limitSeconds: 3600) })
            }
        }
        var parsed = HarnessRun(status: status, output: output, checks: [:], seconds: [:], summaryJSON: nil)
        parsed.parse()
        // The console log stays only when something failed, for the message.
        if status == 0 { try? FileManager.default.removeItem(at: keep) }
        return parsed
    }

    private mutating func parse() {
        // "\r\n" is one Character in Swift, so split on every kind of newline.
        for line in output.split(whereSeparator: \.isNewline).map(String.init) {
            if let json = line.payload(after: "FLOCK-RESULT "), let object = Self.object(json) {
                if let name = object["check"] as? String {
                    checks[name] = Check(
                        name: name, ok: object["ok"] as? Bool ?? false, detail: object["detail"] as? String ?? "")
                } else if let name = object["measure"] as? String, let value = object["seconds"] as? Double {
                    seconds[name] = value
                }
            } else if let json = line.payload(after: "FLOCK-SUMMARY ") {
                summaryJSON = json
            } else if let rest = line.payload(after: "FLOCK-TIME ") {
                let words = rest.split(separator: " ")
                if words.count == 2, let value = Double(words[1]) { seconds["harness_" + words[0]] = value }
            }
        }
    }

    /// Short, for expectation messages (the output is long; `explain` shows what matters).
    var testDescription: String { "harness run (exit \(status), \(checks.count) checks)" }

    /// Whether the named check was reported and passed.
    func passed(_ name: String) -> Bool { checks[name]?.ok == true }

    /// What to show when an expectation fails: the check's detail, else the output's tail.
    func explain(_ name: String) -> String {
        if let check = checks[name] { return "\(name): ok=\(check.ok) \(check.detail)" }
        return "\(name) was not reported; harness exit \(status); output tail:\n"
            + output.split(whereSeparator: \.isNewline).suffix(40).joined(separator: "\n")
    }

    private static func object(_ json: String) -> [String: Any]? {
        (try? JSONSerialization.jsonObject(with: Data(json.utf8))) as? [String: Any]
    }

    /// Spawns `executable` with `arguments`, stdout and stderr into one pipe, and kills it (and
    /// its process group) after `limitSeconds`.
    private static func run(
        _ executable: String, _ arguments: [String], limitSeconds: Double
    ) throws -> (
        Int32, String
    ) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.currentDirectoryURL = URL(fileURLWithPath: repository)
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let killer = DispatchWorkItem { if process.isRunning { process.terminate() } }
        DispatchQueue.global().asyncAfter(deadline: .now() + limitSeconds, execute: killer)
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        killer.cancel()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }
}

extension String {
    fileprivate func payload(after marker: String) -> String? {
        guard let range = range(of: marker) else { return nil }
        return String(self[range.upperBound...])
    }
}
