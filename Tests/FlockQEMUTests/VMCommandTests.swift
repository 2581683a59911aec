import FlockTestSupport
import Foundation
import Testing

@testable import FlockQEMU

/// `flockctl vm …` through the real binary. Spec errors need no VM; the rest clones the shared
/// parent, so it lives in the serialized VM suite's process but boots nothing new.
@Suite struct VMSpecCommandTests {
    @Test func aBadSpecListsEveryProblemWithTheFile() async throws {
        let directory = try tmpfsScratch("clispec")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let spec = "\(directory)/bad.yaml"
        try "name: Bad\npool: web\nkernel: missing/vmlinuz\nmemory_mib: lots\ncolour: blue\n".write(
            toFile: spec, atomically: true, encoding: .utf8)
        let result = try await CLI.run(["vm", "start", spec, "--state", "\(directory)/state"])
        #expect(result.status == 1, "\(result)")
        #expect(result.stderr.contains("unknown key 'colour'"), "\(result)")
        #expect(result.stderr.contains("'memory_mib' must be a whole number"), "\(result)")
        #expect(
            result.stderr.contains("\(directory)/missing/vmlinuz"), "relative paths resolve against the spec: \(result)"
        )
        #expect(result.stderr.contains("name 'Bad'"), "\(result)")
        #expect(!FileManager.default.fileExists(atPath: "\(directory)/state/vms"), "nothing started, nothing created")
    }

    @Test func theDemoParentSpecIsValid() async throws {
        let spec = GuestImage.root.replacingOccurrences(of: ".build-guest", with: "Deploy/guest/parent.yaml")
        let text = try String(contentsOfFile: spec, encoding: .utf8)
        #expect(text.contains("name: web-parent"))
        #expect(text.contains("mode: user"))
    }
}

extension RealVMs.CloneTests {
    @Test func flockctlClonesListsAndDestroys() async throws {
        let (root, parent) = try await SharedParent.shared.get()
        let clone = try await CLI.run([
            "vm", "clone", parent.name, "--count", "2", "--mode", "lazy", "--state", root, "--json",
        ])
        #expect(clone.status == 0, "\(clone)")
        let vms = try #require(clone.json as? [[String: Any]], "\(clone)")
        #expect(vms.count == 2)
        for vm in vms {
            #expect(
                vm["mode"] as? String == "lazy" && vm["parent"] as? String == parent.name
                    && vm["state"] as? String == "running")
            let http = try #require(vm["http"] as? String)
            let port = try #require(Int(http.split(separator: ":").last ?? ""))
            #expect(try await HTTP.get("127.0.0.1", port, "/healthz").status == 200)
        }
        #expect(clone.stderr.contains("paused"), "the parent's pause is logged: \(clone)")

        let list = try await CLI.run(["vm", "list", "--state", root])
        #expect(list.status == 0)
        #expect(list.stdout.hasPrefix("NAME"))
        for vm in vms { #expect(list.stdout.contains(vm["name"] as? String ?? "?")) }

        let refused = try await CLI.run(["vm", "destroy", parent.name, "--state", root])
        #expect(refused.status == 1 && refused.stderr.contains("--parent"), "\(refused)")
        for vm in vms {
            let destroyed = try await CLI.run(["vm", "destroy", vm["name"] as? String ?? "?", "--state", root])
            #expect(destroyed.status == 0, "\(destroyed)")
        }
        let after = try await CLI.run(["vm", "list", "--state", root, "--json"])
        #expect((after.json as? [[String: Any]])?.map { $0["name"] as? String } == [parent.name])
        #expect(filesUnder("\(root)/snapshots").isEmpty)
    }
}

extension RealVMs.ResumeParentTests {
    /// `flockctl vm resume`, as an operator would run it with no flockd to heal the pool: a parent
    /// paused behind Flock's back serves again, and a second run finds nothing to do.
    @Test func flockctlResumesAPausedParent() async throws {
        let (root, parent) = try await SharedParent.shared.get()
        let port = try #require(parent.port)
        func qmp(_ command: String) async throws -> JSONValue {
            let client = try await QMPClient.connect(path: VMPaths(root: root, name: parent.name).qmpSocket)
            defer { client.close() }
            return try await client.execute(command)
        }
        try await qmp("stop")
        #expect(try await qmp("query-status")["status"]?.stringValue == "paused")

        let resumed = try await CLI.run(["vm", "resume", parent.name, "--state", root])
        #expect(resumed.status == 0, "\(resumed)")
        #expect(resumed.stdout == "\(parent.name) was paused; resumed it\n", "\(resumed)")
        #expect(try await qmp("query-status")["status"]?.stringValue == "running")
        #expect(try await HTTP.get("127.0.0.1", port, "/healthz", timeout: .seconds(10)).status == 200)

        let again = try await CLI.run(["vm", "resume", parent.name, "--state", root])
        #expect(again.status == 0, "\(again)")
        #expect(again.stdout == "\(parent.name) already runs; nothing to do\n", "\(again)")
        let json = try await CLI.run(["vm", "resume", parent.name, "--state", root, "--json"])
        let object = try #require(json.json as? [String: Any], "\(json)")
        #expect(object["parent"] as? String == parent.name && object["found"] as? String == "running")
        #expect(object["resumed"] as? Bool == false, "\(json)")

        let unknown = try await CLI.run(["vm", "resume", "flock-qt-nosuch", "--state", root])
        #expect(unknown.status == 1, "\(unknown)")
        #expect(unknown.stderr.contains("no VM named flock-qt-nosuch in \(root)"), "\(unknown)")
    }
}
