import FlockSystem
import Foundation

/// What a snapshot can only be restored under: the QEMU that wrote its device state, the
/// versioned machine type (`pc-q35-7.2`, not the `q35` alias, which moves with QEMU) and the
/// CPU model. Restoring across CPU models crashes guests (Firecracker and E2B users found so), and
/// QEMU refuses device state from a machine type it does not know; comparing first turns both
/// into a clear refusal that says what differs.
public struct SnapshotCompatibility: Sendable, Hashable, Codable {
    public var qemuVersion: String
    public var machine: String
    public var cpuModel: String

    public init(qemuVersion: String, machine: String, cpuModel: String) {
        self.qemuVersion = qemuVersion
        self.machine = machine
        self.cpuModel = cpuModel
    }

    /// One phrase per difference (`CPU model max here, qemu64 in the snapshot`); empty when a
    /// restore may go ahead.
    public func differences(fromSnapshot snapshot: SnapshotCompatibility) -> [String] {
        var differences: [String] = []
        if qemuVersion != snapshot.qemuVersion {
            differences.append("QEMU \(snapshot.qemuVersion) in the snapshot, \(qemuVersion) here")
        }
        if machine != snapshot.machine {
            differences.append("machine type \(snapshot.machine) in the snapshot, \(machine) here")
        }
        if cpuModel != snapshot.cpuModel {
            differences.append("CPU model \(snapshot.cpuModel) in the snapshot, \(cpuModel) here")
        }
        return differences
    }
}

/// What the host's QEMU said about itself, asked once per driver.
public struct QEMUFacts: Sendable, Hashable, Codable {
    /// `7.2.19` from `QEMU emulator version 7.2.19 (Debian 1:7.2+dfsg-7+deb12u7)`.
    public var version: String
    /// Machine types by name, each mapped to what it is an alias of (itself when not an alias).
    public var machines: [String: String]

    /// The versioned machine type behind `name` (`q35` → `pc-q35-7.2`); `name` when unknown.
    public func resolvedMachine(_ name: String) -> String { machines[name] ?? name }

    static func parseVersion(_ text: String) -> String {
        let words = text.split(whereSeparator: \.isWhitespace)
        if let index = words.firstIndex(of: "version"), index + 1 < words.count { return String(words[index + 1]) }
        return text.split(separator: "\n").first.map(String.init) ?? "unknown"
    }

    /// Lines of `-machine help`: `q35                  Standard PC (Q35 + ICH9, 2009) (alias of pc-q35-7.2)`.
    static func parseMachines(_ text: String) -> [String: String] {
        var machines: [String: String] = [:]
        for line in text.split(separator: "\n").dropFirst() {
            guard let name = line.split(separator: " ").first.map(String.init) else { continue }
            if let range = line.range(of: "(alias of ") {
                machines[name] = String(line[range.upperBound...].prefix { $0 != ")" })
            } else {
                machines[name] = name
            }
        }
        return machines
    }
}

extension QEMUDriver {
    /// The host's QEMU version and machine types; asked once, then cached.
    public func facts() async -> QEMUFacts {
        if let qemuFacts { return qemuFacts }
        let version = try? await ChildProcess.run(configuration.qemu, ["--version"], timeout: .seconds(20))
        let machines = try? await ChildProcess.run(configuration.qemu, ["-machine", "help"], timeout: .seconds(20))
        let facts = QEMUFacts(
            version: QEMUFacts.parseVersion(version?.standardOutput ?? "unknown"),
            machines: QEMUFacts.parseMachines(machines?.standardOutput ?? ""))
        if version?.status == 0 { qemuFacts = facts }
        return facts
    }

    /// What a snapshot of a VM with this machine type and accelerator records, on this host.
    public func compatibility(machine: String, accelerator: Accelerator) async -> SnapshotCompatibility {
        let facts = await facts()
        return SnapshotCompatibility(
            qemuVersion: facts.version, machine: facts.resolvedMachine(machine),
            cpuModel: configuration.cpuModel ?? QEMUCommandLine.defaultCPUModel(accelerator))
    }
}

extension QEMUDriver {
    /// The CPU model of VMs on a host whose driver sets none (`-cpu` is QEMU's per-accelerator
    /// default), so that another host's report can be compared with a snapshot's.
    public static func defaultCPUModel(_ accelerator: Accelerator) -> String {
        QEMUCommandLine.defaultCPUModel(accelerator)
    }
}
