import FlockSystem
import FlockTestSupport
import Foundation

@testable import FlockQEMU

/// A throwaway network for bridge-mode tests: a namespace holding a bridge, joined to the host
/// by a veth pair whose host end is the subnet's gateway, so the test reaches clones directly.
struct TestNetwork {
    let namespace: String
    let bridge = "flkbr0"
    let hostSide: String
    let subnet = "10.213.77.0/24"
    let gateway = "10.213.77.1"

    init() async throws {
        let tag = String(UInt32.random(in: 0...0xffff), radix: 16)
        namespace = "flockt\(tag)"
        hostSide = "flkh\(tag)"
        let steps: [[String]] = [
            ["netns", "add", namespace],
            ["-n", namespace, "link", "add", bridge, "type", "bridge"],
            ["link", "add", hostSide, "type", "veth", "peer", "name", "flkn0", "netns", namespace],
            ["-n", namespace, "link", "set", "flkn0", "master", bridge],
            ["-n", namespace, "link", "set", "flkn0", "up"],
            ["-n", namespace, "link", "set", bridge, "up"],
            ["-n", namespace, "link", "set", "lo", "up"],
            ["addr", "add", "\(gateway)/24", "dev", hostSide],
            ["link", "set", hostSide, "up"],
        ]
        for step in steps {
            let status = try await ChildProcess.run("ip", step, log: "/dev/null")
            if status != 0 {
                await destroy()
                throw HTTP.Failure(description: "ip \(step.joined(separator: " ")) failed with \(status)")
            }
        }
    }

    func destroy() async {
        _ = try? await ChildProcess.run("ip", ["link", "delete", hostSide], log: "/dev/null")
        _ = try? await ChildProcess.run("ip", ["netns", "delete", namespace], log: "/dev/null")
    }

    /// Interfaces in the namespace, to check TAPs are gone.
    func links() async throws -> String {
        let directory = try tmpfsScratch("links")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        _ = try await ChildProcess.run("ip", ["-n", namespace, "-o", "link", "show"], log: "\(directory)/out")
        return (try? String(contentsOfFile: "\(directory)/out", encoding: .utf8)) ?? ""
    }

    /// The host's neighbour table on the veth: which MAC answered for which IP.
    func neighbours() async throws -> [String: String] {
        let directory = try tmpfsScratch("neigh")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        _ = try await ChildProcess.run("ip", ["neigh", "show", "dev", hostSide], log: "\(directory)/out")
        let text = (try? String(contentsOfFile: "\(directory)/out", encoding: .utf8)) ?? ""
        var table: [String: String] = [:]
        for line in text.split(separator: "\n") {
            let words = line.split(separator: " ").map(String.init)
            if let index = words.firstIndex(of: "lladdr"), index + 1 < words.count {
                table[words[0]] = words[index + 1]
            }
        }
        return table
    }
}
