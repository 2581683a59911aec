import FlockCore
import FlockSystem
import FlockTestSupport
import Foundation
import Testing

@testable import FlockQEMU

extension RealVMs {
    /// VMs with a virtio-blk disk: the parent runs on an overlay of the image, each snapshot
    /// freezes its active layer, each clone writes to its own overlay on that layer, and overlays
    /// go with their clone. (The demo guest boots from its initrd; the disk is attached as data.)
    @Suite(.serialized)
    struct DiskTests {
        @Test func everyVMWritesToItsOwnOverlay() async throws {
            let root = try tmpfsScratch("disk")
            ExitCleanup.register(root)
            let base = "\(root)/base.qcow2"
            #expect(
                try await ChildProcess.run("qemu-img", ["create", "-q", "-f", "qcow2", base, "32M"], log: "/dev/null")
                    == 0)
            let baseBefore = try Data(contentsOf: URL(fileURLWithPath: base))
            let driver = QEMUDriver(configuration: SharedParent.configuration(root))
            var spec = GuestImage.spec(name: "flock-dk-parent", pool: "dk")
            spec.disk = base
            let parent = try await driver.startParent(spec)
            let parentDir = VMPaths(root: root, name: parent.name).directory
            #expect(parent.disk == "\(parentDir)/disk.qcow2")
            #expect(try await backing(of: "\(parentDir)/disk.qcow2") == base)

            let lazy = try await driver.clone(
                CloneRequest(pool: "dk", parent: parent.name, mode: .lazy, names: ["flock-dk-la", "flock-dk-lb"]))
            #expect(lazy.failed.isEmpty, "\(lazy.failed)")
            let afterLazy = try #require(await driver.record(named: parent.name))
            #expect(afterLazy.disk == "\(parentDir)/disk-g1.qcow2", "the parent moved onto a new overlay")
            #expect(try await backing(of: "\(parentDir)/disk-g1.qcow2") == "\(parentDir)/disk.qcow2")
            for vm in lazy.started {
                let overlay = "\(VMPaths(root: root, name: vm.name).directory)/disk.qcow2"
                #expect(
                    try await backing(of: overlay) == "\(parentDir)/disk.qcow2",
                    "clone overlays sit on the frozen layer")
                #expect(try await HTTP.get("127.0.0.1", try #require(vm.port), "/healthz").status == 200)
            }

            let eager = try await driver.clone(
                CloneRequest(pool: "dk", parent: parent.name, mode: .eager, names: ["flock-dk-ea"]))
            #expect(eager.failed.isEmpty, "\(eager.failed)")
            #expect(await driver.record(named: parent.name)?.disk == "\(parentDir)/disk-g2.qcow2")
            #expect(try await backing(of: "\(root)/vms/flock-dk-ea/disk.qcow2") == "\(parentDir)/disk-g1.qcow2")
            #expect(try await HTTP.get("127.0.0.1", try #require(eager.started.first?.port), "/healthz").status == 200)

            let cold = try await driver.clone(
                CloneRequest(pool: "dk", parent: parent.name, mode: .cold, names: ["flock-dk-ca"]))
            #expect(cold.failed.isEmpty, "\(cold.failed)")
            #expect(try await backing(of: "\(root)/vms/flock-dk-ca/disk.qcow2") == base)
            #expect(try await HTTP.get("127.0.0.1", try #require(cold.started.first?.port), "/healthz").status == 200)

            for name in ["flock-dk-la", "flock-dk-lb", "flock-dk-ea", "flock-dk-ca"] {
                try await driver.destroy(name: name)
                #expect(
                    !FileManager.default.fileExists(atPath: "\(root)/vms/\(name)"), "overlay deleted with its clone")
            }
            try await driver.stopParent(name: parent.name)
            #expect(filesUnder("\(root)/vms").isEmpty && filesUnder("\(root)/snapshots").isEmpty)
            #expect(try Data(contentsOf: URL(fileURLWithPath: base)) == baseBefore, "the spec's image is never written")
            try? FileManager.default.removeItem(atPath: root)
        }

        /// The backing file of a qcow2 image, read with `qemu-img info -U` (the image may be in use).
        private func backing(of image: String) async throws -> String? {
            let directory = try tmpfsScratch("info")
            defer { try? FileManager.default.removeItem(atPath: directory) }
            let status = try await ChildProcess.run(
                "qemu-img", ["info", "-U", "--output=json", image], log: "\(directory)/out")
            guard status == 0 else { return nil }
            let data = try Data(contentsOf: URL(fileURLWithPath: "\(directory)/out"))
            return (try JSONSerialization.jsonObject(with: data) as? [String: Any])?["backing-filename"] as? String
        }
    }
}
