import CXenLight
import FlockCore
import FlockSystem
import Foundation

extension XenDriver {
    /// Writes the domain's record (dom0-only) and its identity (readable by the guest), before
    /// the domain is unpaused so that the agent finds the identity as soon as it looks.
    func publish(_ record: XenDomainRecord, identity: CloneIdentity, domid: UInt32) async throws(XenError) {
        try await xen.run { xen throws(XenError) in
            try xen.write(XenIdentityKeys.record(domid), record.encoded, readers: [])
            try xen.write(XenIdentityKeys.identity(domid), identity.json, readers: [domid])
        }
    }

    /// Rewrites a parent's record (its next clone generation).
    func update(_ record: XenDomainRecord, domid: UInt32) async throws(XenError) {
        try await xen.run { xen throws(XenError) in
            try xen.write(XenIdentityKeys.record(domid), record.encoded, readers: [])
        }
    }

    /// Polls the guest's reply key until the agent acknowledges `identity` (or says why not, a
    /// failed clone hook included). The agent acks after its clone hooks ran, so the wait is
    /// `timeout` plus `CloneIdentity.hookTimeBudget`.
    func waitForAck(domid: UInt32, identity: CloneIdentity, timeout: Duration) async throws(XenError) -> [String] {
        let wait = timeout + CloneIdentity.hookTimeBudget
        let deadline = ContinuousClock.now + wait
        let path = XenIdentityKeys.ack(domid)
        while true {
            let value = try await xen.run { xen in xen.read(path) }
            switch XenAgentReply(value, for: identity) {
            case .acknowledged(let applied): return applied
            case .failed(let message): throw .agent(identity.cloneID, message)
            case .pending: break
            }
            guard ContinuousClock.now < deadline else {
                throw .timeout(
                    "waiting for the agent of domain \(identity.cloneID) to acknowledge its identity at \(path)",
                    after: wait)
            }
            try? await Task.sleep(for: XenIdentityKeys.pollInterval)
        }
    }

    /// Waits until the app answers `GET /healthz` with 200 at the domain's address.
    func waitForApp(_ record: XenDomainRecord, timeout: Duration) async throws(XenError) {
        let deadline = ContinuousClock.now + timeout
        var last = "no answer yet"
        while ContinuousClock.now < deadline {
            do {
                let response = try await PlainHTTP.get(
                    host: record.spec.address, port: record.spec.guestPort, "/healthz", timeout: .seconds(2))
                if response.status == 200 { return }
                last = "HTTP \(response.status)"
            } catch {
                last = "\(error)"
            }
            try? await Task.sleep(for: .milliseconds(500))
        }
        throw .timeout("waiting for GET http://\(record.httpAddress)/healthz (last: \(last))", after: timeout)
    }

    /// Unpauses a domain libxl left paused after creating or restoring it.
    func unpause(_ domid: UInt32, name: String) async throws(XenError) {
        try await xen.run { xen throws(XenError) in
            try xen.check(libxl_domain_unpause(xen.ctx, domid, nil), "libxl_domain_unpause", "domain \(name)")
        }
    }
}
