import FlockTestSupport
import Foundation

extension Scratch {
    /// Copies Policies/web.yaml here (optionally edited) and returns its path.
    @discardableResult
    func webPolicy(_ name: String = "web.yaml", edit: (String) -> String = { $0 }) throws -> String {
        try write(name, edit(try String(contentsOfFile: Repo.path("Policies/web.yaml"), encoding: .utf8)))
    }

    /// A flockd config for a real HAProxy and the QEMU driver on a scratch state root, with pool
    /// `web` on `web.yaml` (written here). No VM is started: with the default max of 1 no clone is
    /// ever asked for, and a clone a higher max asks for fails, for no parent VM runs.
    func daemonConfig(
        haproxy: TestHAProxy, backend: String = "app", max: Int = 1, interval: String = "500ms"
    ) throws -> String {
        try webPolicy {
            $0.replacingOccurrences(of: "max: 16", with: "max: \(max)")
                .replacingOccurrences(of: "evaluation_interval: 2s", with: "evaluation_interval: \(interval)")
                .replacingOccurrences(of: "backend: app", with: "backend: \(backend)")
        }
        return try write(
            "flockd.yaml",
            """
            store: { path: state/flock.db }
            log: { format: json, level: info }
            balancers: { lb: { kind: haproxy, socket: \(haproxy.socketPath) } }
            hypervisors: { vm: { kind: qemu, state_root: \(path("qemu")) } }
            pools: { web: { policy: web.yaml, balancer: lb, hypervisor: vm, parent: web-parent } }
            """)
    }
}
