import CXenLight
import FlockCore
import Foundation

extension XenDriver {
    /// Boots a parent from `spec` (paused), hands it its identity (its MAC and address), then
    /// unpauses it and waits until the agent acknowledged and the app answers `/healthz`.
    /// On failure the domain is destroyed.
    public func startParent(_ spec: XenVMSpec) async throws(XenError) -> XenDomainReport {
        try spec.validate()
        try prepareRoot()
        let existing = try await list()
        let taken = try await domainExists(spec.name)
        if taken || existing.contains(where: { $0.record.name == spec.name }) {
            throw .refused("a domain named \(spec.name) already exists (xl list)")
        }
        var spec = spec
        let mac = spec.mac.flatMap(XenMAC.init) ?? XenMAC.random(excluding: Set(existing.compactMap(\.record.spec.mac)))
        spec.mac = mac.text
        let record = XenDomainRecord(
            name: spec.name, pool: spec.pool, role: .parent, lineage: Instance.Lineage(), spec: spec, generation: 0,
            createdAt: Date())
        let config = XenDomainConfig.parent(spec, mac: mac)
        let domid = try await create(config, name: spec.name)
        do throws(XenError) {
            let identity = record.freshIdentity()
            try await publish(record, identity: identity, domid: domid)
            try await unpause(domid, name: spec.name)
            _ = try await waitForAck(domid: domid, identity: identity, timeout: configuration.bootTimeout)
            try await waitForApp(record, timeout: configuration.bootTimeout)
        } catch {
            try? await destroyDomain(domid, name: spec.name)
            throw .launch(spec.name, error.message)
        }
        log.info("parent \(spec.name) serves at \(record.httpAddress) (domid \(domid))")
        return XenDomainReport(record: record, domid: domid, status: .running)
    }

    /// `libxl_domain_create_new`: builds the domain and leaves it paused.
    func create(_ config: XenDomainConfig, name: String) async throws(XenError) -> UInt32 {
        try await xen.run { xen throws(XenError) in
            var domid = flock_invalid_domid
            let rc = libxl_domain_create_new(xen.ctx, config.pointer, &domid, nil, nil)
            if rc != 0 && libxl_domid_valid_guest(domid) != 0 { _ = libxl_domain_destroy(xen.ctx, domid, nil) }
            try xen.check(rc, "libxl_domain_create_new", "domain \(name)")
            return domid
        }
    }

    /// True when any domain (Flock's or not) has this name.
    func domainExists(_ name: String) async throws(XenError) -> Bool {
        try await xen.run { xen in
            var domid: UInt32 = 0
            return libxl_name_to_domid(xen.ctx, name, &domid) == 0
        }
    }
}
