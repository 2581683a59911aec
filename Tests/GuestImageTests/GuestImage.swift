import Foundation

/// The guest image under test: `.build-guest/{vmlinuz,initrd.img}`, made by
/// `Deploy/guest/build.sh`. The script is cached by a hash of its inputs, so running it before
/// every test run costs a couple of seconds when nothing changed and rebuilds when a guest
/// source did (a merely existing initrd could be stale).
enum GuestImage {
    struct BuildError: Error, CustomStringConvertible {
        let description: String
    }

    static let repositoryRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static var kernel: URL { repositoryRoot.appendingPathComponent(".build-guest/vmlinuz") }
    static var initrd: URL { repositoryRoot.appendingPathComponent(".build-guest/initrd.img") }

    /// Runs the build script (a no-op when up to date) and checks both outputs exist.
    static func ensureBuilt() throws {
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("flock-guest-build-\(getpid()).log")
        FileManager.default.createFile(atPath: log.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: log) }
        let handle = try FileHandle(forWritingTo: log)
        defer { try? handle.close() }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/bash")
        process.arguments = [repositoryRoot.appendingPathComponent("Deploy/guest/build.sh").path]
        process.currentDirectoryURL = repositoryRoot
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            let output = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
            throw BuildError(
                description: "Deploy/guest/build.sh failed (\(process.terminationStatus)):\n\(output.suffix(4000))")
        }
        for file in [kernel, initrd] where !FileManager.default.fileExists(atPath: file.path) {
            throw BuildError(description: "build.sh succeeded but \(file.path) is missing")
        }
    }
}
