import FlockCore
import FlockQEMU
import Foundation

/// How `flockctl vm` shows VMs: a table for people, JSON for scripts.
enum VMOutput {
    static func table(_ reports: [VMStatusReport]) -> String {
        var rows = [["NAME", "ROLE", "STATE", "MODE", "PARENT", "HTTP", "PID"]]
        for report in reports {
            let record = report.record
            rows.append([
                record.name, record.role.rawValue, report.status.rawValue, record.lineage.mode?.rawValue ?? "-",
                record.lineage.parent ?? "-", record.httpAddress ?? "-", report.pid.map(String.init) ?? "-",
            ])
        }
        return reports.isEmpty ? "no VMs\n" : flockctl.table(rows)
    }

    static func json(_ reports: [VMStatusReport], failed: [String: String] = [:]) -> String {
        let vms: [[String: Any]] = reports.map { report in
            let record = report.record
            var object: [String: Any] = [
                "name": record.name, "pool": record.pool, "role": record.role.rawValue, "state": report.status.rawValue,
                "mode": record.lineage.mode?.rawValue ?? NSNull(), "parent": record.lineage.parent ?? NSNull(),
                "snapshot": record.lineage.snapshot ?? NSNull(), "generation": record.lineage.generation,
                "http": record.httpAddress ?? NSNull(), "mac": record.mac, "accelerator": record.accelerator.rawValue,
            ]
            object["pid"] = report.pid.map { Int($0) as Any } ?? NSNull()
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
