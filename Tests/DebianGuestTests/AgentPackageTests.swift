import FlockSystem
import Foundation
import Testing

/// The flock-agent package Deploy/guest/build-agent-deb.sh builds (build-debian.sh builds it
/// first, and the image installs it): what users install, read back with dpkg-deb.
@Suite struct AgentPackageTests {
    private func package() throws -> String {
        let directory = URL(fileURLWithPath: DebianImage.root).deletingLastPathComponent().path
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        let debs = names.filter { $0.hasPrefix("flock-agent_") && $0.hasSuffix("_amd64.deb") }
        #expect(debs.count == 1, "exactly one agent package in \(directory): \(debs)")
        return directory + "/" + (try #require(debs.first, "run bash Deploy/guest/build-agent-deb.sh"))
    }

    @Test func theControlFieldsNameTheAgentForAmd64() async throws {
        let deb = try package()
        let outcome = try await ChildProcess.run("dpkg-deb", ["-f", deb, "Package", "Architecture", "Version"])
        #expect(outcome.status == 0, "\(outcome.standardError)")
        var fields: [String: String] = [:]
        for line in outcome.standardOutput.split(separator: "\n") {
            let parts = line.split(separator: ":", maxSplits: 1)
            if parts.count == 2 { fields[String(parts[0])] = parts[1].trimmingCharacters(in: .whitespaces) }
        }
        #expect(fields["Package"] == "flock-agent")
        #expect(fields["Architecture"] == "amd64")
        let version = try #require(fields["Version"])
        #expect(version.hasPrefix("0.1.0+git"))
        #expect(deb.hasSuffix("/flock-agent_\(version)_amd64.deb"), "the file is named for its version")
    }

    @Test func itHoldsTheAgentItsUnitAndTheHookDirectoryOwnedByRoot() async throws {
        let listing = try await ChildProcess.run("dpkg-deb", ["-c", try package()])
        #expect(listing.status == 0, "\(listing.standardError)")
        let lines = listing.standardOutput.split(separator: "\n")
        for path in ["./usr/sbin/flock-agent", "./lib/systemd/system/flock-agent.service", "./etc/flock/clone.d/"] {
            #expect(lines.contains { $0.hasSuffix(" " + path) }, "\(path) is in the package")
        }
        #expect(lines.allSatisfy { $0.contains(" root/root ") }, "every file is root's (dpkg-deb --root-owner-group)")
        #expect(lines.contains { $0.hasPrefix("-rwxr-xr-x") && $0.hasSuffix(" ./usr/sbin/flock-agent") })
    }
}
