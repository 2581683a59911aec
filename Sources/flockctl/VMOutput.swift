import FlockCLI
import FlockCore
import FlockQEMU
import FlockXen
import Foundation

/// One VM as `flockctl vm` shows it, whichever driver runs it.
struct VMRow {
    var name: String
    var pool: String
    var role: Instance.Role
    var state: VMInfo.Status
    var lineage: Instance.Lineage
    var http: String?
    var mac: String?
    /// What the driver knows the VM by besides its name: QEMU's `pid`, Xen's `domid`.
    var handleName: String
    var handle: Int?
    /// JSON-only fields of one driver (QEMU's accelerator).
    var driverFields: [String: Any] = [:]

    init(_ report: VMStatusReport) {
        let record = report.record
        name = record.name
        pool = record.pool
        role = record.role
        state = report.status
        lineage = record.lineage
        http = record.httpAddress
        mac = record.mac
        handleName = "pid"
        handle = report.pid.map(Int.init)
        driverFields = ["accelerator": record.accelerator.rawValue]
    }

    init(_ report: XenDomainReport) {
        let record = report.record
        name = record.name
        pool = record.pool
        role = record.role
        state = report.status
        lineage = record.lineage
        http = record.httpAddress
        mac = record.spec.mac
        handleName = "domid"
        handle = Int(report.domid)
    }
}

/// How `flockctl vm` shows VMs: a table for people, JSON for scripts.
enum VMOutput {
    static func table(_ rows: [VMRow]) -> String {
        guard let first = rows.first else { return "no VMs\n" }
        var lines = [["NAME", "ROLE", "STATE", "MODE", "PARENT", "HTTP", first.handleName.uppercased()]]
        for row in rows {
            lines.append([
                row.name, row.role.rawValue, row.state.rawValue, row.lineage.mode?.rawValue ?? "-",
                row.lineage.parent ?? "-", row.http ?? "-", row.handle.map(String.init) ?? "-",
            ])
        }
        return FlockCLI.table(lines)
    }

    static func json(_ rows: [VMRow], failed: [String: String] = [:]) -> String {
        let vms: [[String: Any]] = rows.map { row in
            var object: [String: Any] = [
                "name": row.name, "pool": row.pool, "role": row.role.rawValue, "state": row.state.rawValue,
                "mode": row.lineage.mode?.rawValue ?? NSNull(), "parent": row.lineage.parent ?? NSNull(),
                "snapshot": row.lineage.snapshot ?? NSNull(), "generation": row.lineage.generation,
                "http": row.http ?? NSNull(), "mac": row.mac ?? NSNull(),
            ]
            object[row.handleName] = row.handle.map { $0 as Any } ?? NSNull()
            object.merge(row.driverFields) { _, driver in driver }
            return object
        }
        let document: Any = failed.isEmpty ? vms : ["vms": vms, "failed": failed] as [String: Any]
        let data =
            (try? JSONSerialization.data(withJSONObject: document, options: [.prettyPrinted, .sortedKeys]))
            ?? Data("[]".utf8)
        return String(decoding: data, as: UTF8.self) + "\n"
    }

    static func seconds(_ duration: Duration) -> String {
        let value = Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
        return String(format: "%.2f s", value)
    }
}
