import FlockCore

extension HAProxyBalancer {
    /// What a reconcile pass found and did.
    public struct ReconcileReport: Sendable, Hashable {
        /// Expected servers that HAProxy had lost (a reload drops dynamic servers) and that were added again.
        public var readded: [String] = []
        /// Expected servers that were already there.
        public var present: [String] = []
        /// Servers Flock does not own (from haproxy.cfg, or without Flock's prefix): reported, never touched.
        public var foreign: [String] = []
        /// Servers with Flock's prefix that the caller did not expect: reported for the caller to
        /// decide (drain and remove, or adopt); not touched here.
        public var unexpected: [String] = []
        /// Expected servers that could not be added again, with the reason.
        public var failed: [String: String] = [:]
    }

    /// Compares the servers Flock should have in `backend` with what HAProxy has, and adds back
    /// the missing ones through the same gated registration as `register`.
    ///
    /// Re-adds run concurrently, so a reload that dropped many clones is repaired in about one
    /// health-check time, not one per server.
    public func reconcile(backend: String, expected: [ServerRegistration]) async throws -> ReconcileReport {
        try RuntimeNames.checkName(backend, kind: "backend")
        let current = try await client.showServersState(backend: backend).servers.filter { $0.backend == backend }
        let currentNames = Set(current.map(\.name))
        let expectedNames = Set(expected.map(\.name))
        var report = ReconcileReport()
        report.foreign = current.map(\.name).filter { !owns($0) }.sorted()
        report.unexpected = current.map(\.name).filter { owns($0) && !expectedNames.contains($0) }.sorted()

        var missing: [ServerRegistration] = []
        for registration in expected {
            if registration.backend != backend {
                report.failed[registration.name] = "expected in backend '\(registration.backend)', not '\(backend)'"
            } else if !owns(registration.name) {
                report.failed[registration.name] = "not a Flock name (no '\(ownedPrefix)' prefix); left alone"
            } else if currentNames.contains(registration.name) {
                report.present.append(registration.name)
            } else {
                missing.append(registration)
            }
        }
        report.present.sort()

        let outcomes = await withTaskGroup(of: (String, String?).self) { group in
            for registration in missing {
                group.addTask {
                    do {
                        try await register(registration)
                        return (registration.name, nil)
                    } catch {
                        return (registration.name, "\(error)")
                    }
                }
            }
            var outcomes: [(String, String?)] = []
            for await outcome in group { outcomes.append(outcome) }
            return outcomes
        }
        for (name, failure) in outcomes {
            if let failure { report.failed[name] = failure } else { report.readded.append(name) }
        }
        report.readded.sort()
        return report
    }
}
