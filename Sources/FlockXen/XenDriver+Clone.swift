import CXenLight
import FlockCore
import FlockSystem
import Foundation

extension XenDriver {
    /// The `Hypervisor` entry point: a missing parent is thrown as `FlockError.notFound`, a
    /// refused request as `FlockError.conflict`; other failures are `XenError`s.
    public func clone(_ request: CloneRequest) async throws -> CloneBatch {
        do {
            return try await cloneBatch(request)
        } catch {
            throw error.asFlockError
        }
    }

    /// The `Hypervisor` entry point. This driver makes no standbys, so every domain it knows is
    /// refused (`FlockError.conflict`) and any other name is `FlockError.notFound`.
    public func activate(name: String) async throws -> VMInfo {
        do throws(XenError) {
            guard try await report(named: name) != nil else { throw .notFound(name) }
            throw .refused("\(name) is not a standby: the Xen driver makes no standby clones")
        } catch {
            throw error.asFlockError
        }
    }

    /// Clones a running parent. `eager`: one checkpoint of the parent's memory (`xl save -c`
    /// semantics: the parent is suspended, saved and resumed in place), each clone restored from
    /// it with its own name, UUID and MAC. `cold`: each clone boots from the parent's spec.
    /// `lazy` needs Xen VM forking, which this driver does not do: it is refused with what the
    /// host has. A clone counts as started once its agent acknowledged its identity; one that
    /// does not is destroyed and reported in `failed`.
    public func cloneBatch(_ request: CloneRequest) async throws(XenError) -> CloneBatch {
        if request.standby {
            throw .unsupported("the Xen driver makes no standby clones: they need lazy clones (Xen VM forking)")
        }
        if request.mode == .lazy { throw try await forkSupport().lazyError }
        try prepareRoot()
        let reports = try await list()
        guard let parent = reports.first(where: { $0.record.name == request.parent && $0.record.role == .parent })
        else {
            throw .notFound(request.parent)
        }
        guard parent.record.pool == request.pool else {
            throw .refused("parent \(request.parent) serves pool \(parent.record.pool), not \(request.pool)")
        }
        guard parent.status != .stopped else { throw .notFound("\(request.parent) (the domain has shut down)") }

        var batch = CloneBatch(started: [])
        var records: [XenDomainRecord] = []
        var allocator = parent.record.spec.subnet.map {
            AddressAllocator(
                subnet: $0, gateway: parent.record.spec.gateway, taken: reports.map(\.record.spec.address) + reserved)
        }
        var usedMACs = Set(reports.compactMap(\.record.spec.mac))
        let generation = parent.record.generation
        for name in request.names {
            if !OwnedName.isOwned(name, pool: request.pool) || !XenVMSpec.isValidName(name) {
                batch.failed[name] =
                    "not a Flock name for pool \(request.pool) (expected \(OwnedName.prefix)\(request.pool)-<[a-z0-9]+>)"
            } else if records.contains(where: { $0.name == name })
                || reports.contains(where: { $0.record.name == name })
            {
                batch.failed[name] = "a domain named \(name) already exists"
            } else if let address = allocator?.allocate() {
                let mac = XenMAC.random(excluding: usedMACs)
                usedMACs.insert(mac.text)
                var spec = parent.record.spec
                spec.name = name
                spec.mac = mac.text
                spec.address = address
                records.append(
                    XenDomainRecord(
                        name: name, pool: request.pool, role: .clone,
                        lineage: Instance.Lineage(
                            parent: parent.record.name, generation: generation, mode: request.mode),
                        spec: spec, generation: 0, createdAt: Date()))
            } else {
                batch.failed[name] =
                    "no free address left in \(parent.record.spec.address)/\(parent.record.spec.prefix)"
            }
        }
        guard !records.isEmpty else { return batch }
        // Reserved before the first await: a concurrent batch must not hand out the same addresses.
        let addresses = Set(records.map(\.spec.address))
        reserved.formUnion(addresses)
        defer { reserved.subtract(addresses) }
        var parentRecord = parent.record
        parentRecord.generation += 1
        try await update(parentRecord, domid: parent.domid)

        // Domains are built one at a time (one libxl context); the agents then answer in parallel.
        var pending: [(XenDomainRecord, UInt32, CloneIdentity)] = []
        if request.mode == .eager {
            let checkpoint = try await checkpoint(parent)
            defer { try? FileManager.default.removeItem(atPath: checkpoint) }
            let parentConfig = try await retrieveConfiguration(parent)
            for record in records {
                do throws(XenError) {
                    let domid = try await restore(record, from: checkpoint, parentConfig: parentConfig)
                    pending.append((record, domid, try await handOver(record, domid: domid)))
                } catch {
                    batch.failed[record.name] = error.message
                }
            }
        } else {
            for record in records {
                do throws(XenError) {
                    let config = XenDomainConfig.parent(record.spec, mac: XenMAC(record.spec.mac ?? "")!)
                    let domid = try await create(config, name: record.name)
                    pending.append((record, domid, try await handOver(record, domid: domid)))
                } catch {
                    batch.failed[record.name] = error.message
                }
            }
        }
        let cold = request.mode == .cold
        let results = await withTaskGroup(of: (XenDomainRecord, UInt32, XenError?).self) { group in
            for (record, domid, identity) in pending {
                group.addTask {
                    do throws(XenError) {
                        let timeout = cold ? self.configuration.bootTimeout : self.configuration.agentTimeout
                        _ = try await self.waitForAck(domid: domid, identity: identity, timeout: timeout)
                        if !cold, let hold = self.configuration.holdBridge {
                            try await self.moveVif(domid: domid, from: hold, to: record.spec.bridge)
                        }
                        if cold { try await self.waitForApp(record, timeout: self.configuration.bootTimeout) }
                        return (record, domid, nil)
                    } catch {
                        return (record, domid, error)
                    }
                }
            }
            var results: [(XenDomainRecord, UInt32, XenError?)] = []
            for await result in group { results.append(result) }
            return results
        }
        for (record, domid, error) in results {
            if let error {
                batch.failed[record.name] = error.message
                try? await destroyDomain(domid, name: record.name)
            } else {
                batch.started.append(XenDomainReport(record: record, domid: domid, status: .running).info)
            }
        }
        batch.started.sort { $0.name < $1.name }
        return batch
    }

    /// Publishes a paused domain's record and identity, then unpauses it; on failure the domain
    /// is destroyed.
    private func handOver(_ record: XenDomainRecord, domid: UInt32) async throws(XenError) -> CloneIdentity {
        let identity = record.freshIdentity()
        do throws(XenError) {
            try await publish(record, identity: identity, domid: domid)
            try await unpause(domid, name: record.name)
            return identity
        } catch {
            try? await destroyDomain(domid, name: record.name)
            throw error
        }
    }

    /// Saves the running parent's memory to a new 0600 file under the state root, then resumes
    /// it in place: `xl save -c` (suspend, then `libxl_domain_resume` with suspend_cancel, the
    /// guest's cooperative resume). Returns the file's path; the caller deletes it.
    func checkpoint(_ parent: XenDomainReport) async throws(XenError) -> String {
        let name = parent.record.name
        let path =
            "\(configuration.stateRoot)/checkpoints/\(name)-\(parent.record.generation)-\(UUID().uuidString.prefix(8)).save"
        let started = ContinuousClock.now
        try await xen.run { xen throws(XenError) in
            let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
            guard fd >= 0 else {
                throw .io("cannot create the checkpoint \(path): \(errnoText())")
            }
            defer { close(fd) }
            let saved = libxl_domain_suspend(xen.ctx, parent.domid, fd, 0, nil)
            // Resume whether or not the save worked, as `xl save -c` does: the parent keeps serving.
            let resumed = libxl_domain_resume(xen.ctx, parent.domid, 1, nil)
            do throws(XenError) {
                try xen.check(saved, "libxl_domain_suspend", "parent \(name) to \(path)")
                try xen.check(resumed, "libxl_domain_resume (suspend_cancel)", "parent \(name)")
            } catch {
                unlink(path)
                throw error
            }
        }
        let elapsed = ContinuousClock.now - started
        log.info(
            "checkpointed parent \(name) to \(path) in \(elapsed.formatted(.units(allowed: [.milliseconds])))")
        return path
    }

    /// The parent's running configuration (`libxl_retrieve_domain_configuration`), which a
    /// restore of its checkpoint must match.
    func retrieveConfiguration(_ parent: XenDomainReport) async throws(XenError) -> XenDomainConfig {
        try await xen.run { xen throws(XenError) in
            let config = XenDomainConfig()
            try xen.check(
                libxl_retrieve_domain_configuration(xen.ctx, parent.domid, config.pointer, nil),
                "libxl_retrieve_domain_configuration", "parent \(parent.record.name)")
            return config
        }
    }

    /// `libxl_domain_create_restore` of one clone from the checkpoint, with the parent's config
    /// made the clone's (`XenDomainConfig.deriveClone`). Leaves the domain paused.
    func restore(
        _ record: XenDomainRecord, from checkpoint: String, parentConfig: XenDomainConfig
    ) async throws(XenError) -> UInt32 {
        try await xen.run { xen throws(XenError) in
            let config = XenDomainConfig()
            libxl_domain_config_copy(xen.ctx, config.pointer, parentConfig.pointer)
            config.deriveClone(
                name: record.name, mac: XenMAC(record.spec.mac ?? "")!, holdBridge: self.configuration.holdBridge)
            let fd = open(checkpoint, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else {
                throw .io("cannot open the checkpoint \(checkpoint): \(errnoText())")
            }
            defer { close(fd) }
            var params = libxl_domain_restore_params()
            libxl_domain_restore_params_init(&params)
            defer { libxl_domain_restore_params_dispose(&params) }
            params.checkpointed_stream = Int32(LIBXL_CHECKPOINTED_STREAM_NONE.rawValue)
            params.stream_version = 2  // libxl_domain_suspend writes a v2 stream (LIBXL_HAVE_SRM_V2)
            var domid = flock_invalid_domid
            let rc = libxl_domain_create_restore(xen.ctx, config.pointer, &domid, fd, -1, &params, nil, nil)
            if rc != 0 && libxl_domid_valid_guest(domid) != 0 { _ = libxl_domain_destroy(xen.ctx, domid, nil) }
            try xen.check(rc, "libxl_domain_create_restore", "clone \(record.name) from \(checkpoint)")
            return domid
        }
    }

    /// Moves a clone's first vif (`vif<domid>.0`, libxl's name) from the hold bridge to the
    /// parent's, once its agent runs with the clone's own address.
    func moveVif(domid: UInt32, from hold: String, to bridge: String) async throws(XenError) {
        let vif = "vif\(domid).0"
        let moved: ChildProcess.Outcome
        do {
            // ip's error is read while it runs, and a wedged ip is killed instead of hanging the clone.
            moved = try await ChildProcess.run(
                "/sbin/ip", ["link", "set", "dev", vif, "master", bridge], timeout: .seconds(10))
        } catch {
            throw .io("cannot run /sbin/ip to move \(vif) from \(hold) to \(bridge): \(error)")
        }
        guard moved.status == 0 else {
            throw .io(
                "ip link set dev \(vif) master \(bridge) (from the hold bridge \(hold)) failed: "
                    + moved.standardError.trimmingCharacters(in: .whitespacesAndNewlines))
        }
        log.info("moved \(vif) from \(hold) to \(bridge)")
    }

    /// The host's capabilities for VM forking, from `libxl_get_physinfo`.
    func forkSupport() async throws(XenError) -> XenForkSupport {
        try await xen.run { xen throws(XenError) in
            var physinfo = libxl_physinfo()
            libxl_physinfo_init(&physinfo)
            defer { libxl_physinfo_dispose(&physinfo) }
            try xen.check(libxl_get_physinfo(xen.ctx, &physinfo), "libxl_get_physinfo", "this host")
            return XenForkSupport(physinfo)
        }
    }
}
