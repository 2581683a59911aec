import FlockCore
import FlockTestSupport
import Foundation
import Testing

@testable import FlockQEMU

extension RealVMs {
    /// Bridge mode inside a network namespace the test builds: clones get their own MAC and IP
    /// from the pool's CIDR (set by the agent), and all of them answer at once.
    @Suite(.serialized)
    struct BridgeTests {
        @Test func clonesGetDistinctMACsAndIPsAndAllAnswerAtOnce() async throws {
            let network = try await TestNetwork()
            let root = try tmpfsScratch("bridge")
            ExitCleanup.register(root)
            let driver = QEMUDriver(
                configuration: QEMUDriverConfiguration(
                    stateRoot: root, snapshotMaxAge: .zero, quitTimeout: .seconds(3),
                    networkNamespace: network.namespace,
                    logger: LineLogHandler.logger(label: "test") { _ in }))
            do {
                var spec = GuestImage.spec(name: "flock-br-parent", pool: "br")
                spec.append = "console=ttyS0 quiet flock.ip=none"
                spec.network = NetworkSpec(
                    mode: .bridge, bridge: network.bridge, cidr: network.subnet, gateway: network.gateway)
                let parent = try await driver.startParent(spec)
                #expect(parent.address == "10.213.77.2")
                #expect(try await HTTP.get("10.213.77.2", 8080, "/healthz").status == 200)

                let names = ["flock-br-a", "flock-br-b", "flock-br-c"]
                let batch = try await driver.clone(
                    CloneRequest(pool: "br", parent: parent.name, mode: .lazy, names: names))
                #expect(batch.failed.isEmpty, "\(batch.failed)")
                let addresses = batch.started.compactMap(\.address)
                let macs = batch.started.compactMap(\.mac)
                #expect(
                    Set(addresses).count == 3 && !addresses.contains("10.213.77.2")
                        && !addresses.contains(network.gateway))
                #expect(Set(macs + [parent.mac]).count == 4)

                // All clones and the parent answer at once, each with its own identity.
                let answers = try await withThrowingTaskGroup(of: (String, String?).self) { group in
                    for vm in batch.started {
                        group.addTask {
                            (vm.name, try await HTTP.json(vm.address!, 8080, "/identity")["hostname"] as? String)
                        }
                    }
                    group.addTask {
                        ("parent", try await HTTP.get("10.213.77.2", 8080, "/healthz").status == 200 ? "up" : nil)
                    }
                    var answers: [String: String?] = [:]
                    for try await (name, hostname) in group { answers[name] = hostname }
                    return answers
                }
                for name in names { #expect(answers[name] == .some(name)) }
                #expect(answers["parent"] == .some("up"))
                // Each IP is answered by the clone's own MAC, not the parent's.
                let neighbours = try await network.neighbours()
                for vm in batch.started { #expect(neighbours[vm.address!] == vm.mac, "\(neighbours)") }

                for name in names { try await driver.destroy(name: name) }
                try await driver.stopParent(name: parent.name)
                let links = try await network.links()
                #expect(
                    !links.contains("flk0") && !links.contains(Networking.tapName(for: names[0])),
                    "TAPs removed: \(links)")
                #expect(filesUnder("\(root)/vms").isEmpty && filesUnder("\(root)/snapshots").isEmpty)
            } catch {
                await network.destroy()
                throw error
            }
            await network.destroy()
            try? FileManager.default.removeItem(atPath: root)
        }
    }
}
