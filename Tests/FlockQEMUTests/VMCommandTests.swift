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
