import FlockCore

extension HAProxyBalancer {
    /// Checks, before anything is registered, that `backend` exists and can take servers at run
    /// time, and that the socket grants `level admin`.
    ///
    /// HAProxy 2.6 does not print whether an algorithm is dynamic (`show stat`'s `algo` column says
    /// `source` for both a map-based and a consistent hash), so the check asks HAProxy itself: it
    /// sends `add server B/flock-startup-probe` *without an address*. HAProxy tests the backend's
    /// algorithm before it parses the server line, so the answer is either "Backend must use a
    /// dynamic load balancing…" or a complaint about the missing address — and no server can
    /// ever be created by it. The report's `details["algorithm"]` is HAProxy's name for the balance
    /// algorithm (`roundrobin`, `leastconn`, `source`, …).
    public func check(backend: String) async throws -> BackendCheck {
        try RuntimeNames.checkName(backend, kind: "backend")
        let stat = try await client.showStat(backend: backend)
        guard let row = stat.backend(backend) else {
            throw FlockError.notFound(
                "HAProxy has a proxy '\(backend)' but no backend of that name (hint: declare it as 'backend \(backend)' in haproxy.cfg)"
            )
        }
        let algorithm = row["algo"]
        let probe = "\(ownedPrefix)startup-probe"
        let words = ["add", "server", "\(backend)/\(probe)"]
        let answer = try await client.execute(words).trimmingCharacters(in: .whitespacesAndNewlines)
        if answer.hasPrefix("Backend must use a dynamic load balancing") {
            throw HAProxyError.backendUnsupported(
                "backend '\(backend)' uses 'balance \(algorithm ?? "?")'"
                    + (algorithm == "static-rr" ? "" : " with a map-based hash")
                    + ", which cannot take servers at run time. In haproxy.cfg, give backend '\(backend)' a dynamic "
                    + "algorithm — 'balance roundrobin', 'leastconn', 'random' or 'first', or keep a hash and add "
                    + "'hash-type consistent' — then reload HAProxy"
            )
        }
        if answer.hasPrefix("New server registered.") {
            // Not expected without an address, but never leave a probe behind.
            try? await client.setState(.maint, backend: backend, server: probe)
            try? await client.deleteServer(backend: backend, server: probe)
        } else if !answer.hasPrefix("'server' expects") {
            throw HAProxyError.rejected(
                words.joined(separator: " ") + " (start-up probe)", target: backend,
                response: answer + (answer.contains("ermission") ? " (hint: the stats socket needs 'level admin')" : "")
            )
        }
        return BackendCheck(
            backend: backend, servers: stat.servers(of: backend).count,
            details: algorithm.map { ["algorithm": $0] } ?? [:])
    }
}
