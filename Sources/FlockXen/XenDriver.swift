import CXenLight
import FlockCore
import FlockSystem
import Foundation
import Logging

/// Flock's Xen driver: starts PV parents, clones them from a checkpoint of their running
/// memory, destroys clones.
///
/// Xen keeps domains alive whatever happens to the process that made them, so the driver's
/// state is in Xen itself: domain names (`OwnedName`) and a record per domain in xenstore
/// (`XenIdentityKeys.record`). Any process sees the same domains, and a restarted daemon adopts
/// them by listing. Only the checkpoint file of a batch lives on disk, and only for the batch.
public actor XenDriver: Hypervisor {
    public nonisolated let configuration: XenDriverConfiguration
    let xen: XenContext
    /// Addresses handed to clones of batches still in progress.
    var reserved: Set<String> = []
    /// The state root's lock, from the first operation that changes domains; see `prepareRoot()`.
    var rootLock: ExclusiveLock?

    private init(configuration: XenDriverConfiguration, xen: XenContext) {
        self.configuration = configuration
        self.xen = xen
    }

    /// Connects to libxl and xenstored; throws `XenError.notRunning` with what was checked and
    /// what to do when this host is not a Xen dom0 (it never crashes on a host without Xen).
    public static func connect(
        configuration: XenDriverConfiguration = XenDriverConfiguration()
    ) throws(XenError)
        -> XenDriver
    {
        XenDriver(configuration: configuration, xen: try XenContext.open(logger: configuration.logger))
    }

    var log: Logger { configuration.logger }

    // MARK: - listing

    /// Every domain that carries a Flock record, parents included, with its run state.
    public func list() async throws(XenError) -> [XenDomainReport] {
        try await xen.run { xen throws(XenError) in
            var count: Int32 = 0
            guard let domains = libxl_list_domain(xen.ctx, &count) else {
                throw .libxl(
                    "libxl_list_domain", rc: ERROR_FAIL.rawValue, "the domain list", lastLog: xen.sink.takeLastError())
            }
            defer { libxl_dominfo_list_free(domains, count) }
            var reports: [XenDomainReport] = []
            for index in 0..<Int(count) {
                let info = domains[index]
                guard info.domid != 0, !info.dying,
                    let data = xen.read(XenIdentityKeys.record(info.domid)),
                    let record = XenDomainRecord.decode(data)
                else { continue }
                let status: VMInfo.Status = info.shutdown ? .stopped : info.paused ? .paused : .running
                var report = XenDomainReport(record: record, domid: info.domid, status: status)
                report.suspended = info.shutdown && info.shutdown_reason == LIBXL_SHUTDOWN_REASON_SUSPEND
                reports.append(report)
            }
            return reports.sorted { $0.record.name < $1.record.name }
        }
    }

    public func ownedVMs() async throws -> [VMInfo] {
        do {
            return try await list().filter { OwnedName.isFlockName($0.record.name) }.map(\.info)
        } catch {
            throw error.asFlockError
        }
    }

    /// The report of one domain, if the driver knows it.
    public func report(named name: String) async throws(XenError) -> XenDomainReport? {
        try await list().first { $0.record.name == name }
    }

    /// Takes over domains left by an earlier driver: Xen kept them running, so running ones are
    /// simply found again; clones that shut down or crashed are destroyed, and checkpoint files
    /// a crashed batch left behind (older than `checkpointLifetime`) are deleted. Returns the
    /// domains that run, parents included.
    public func adopt() async throws(XenError) -> [XenDomainReport] {
        try prepareRoot()
        var adopted: [XenDomainReport] = []
        for report in try await list() {
            if report.status == .stopped && report.record.role == .clone && OwnedName.isFlockName(report.record.name) {
                log.info("clone \(report.record.name) is no longer running; destroying it")
                try? await destroyDomain(report.domid, name: report.record.name)
            } else {
                adopted.append(report)
            }
        }
        // Only files no batch can still be reading: another process (flockctl) may be mid-batch.
        let checkpoints = "\(configuration.stateRoot)/checkpoints"
        let stale = Date().addingTimeInterval(-Self.checkpointLifetime)
        for file in (try? FileManager.default.contentsOfDirectory(atPath: checkpoints)) ?? [] {
            let path = "\(checkpoints)/\(file)"
            let modified = (try? FileManager.default.attributesOfItem(atPath: path))?[.modificationDate] as? Date
            if let modified, modified < stale { try? FileManager.default.removeItem(atPath: path) }
        }
        return adopted
    }

    public func resumeParent(name: String) async throws -> String? {
        do {
            return try await resumeParentIfStopped(name)
        } catch {
            throw error.asFlockError
        }
    }

    /// See `resumeParent(name:)`. A checkpoint suspends and resumes inside one libxl call on the
    /// driver's one context, so a parent found suspended here was left so by a crashed process.
    func resumeParentIfStopped(_ name: String) async throws(XenError) -> String? {
        try prepareRoot()
        guard let report = try await report(named: name), report.record.role == .parent,
            report.status != .stopped || report.suspended
        else { throw .notFound(name) }
        if report.suspended {
            try await xen.run { xen throws(XenError) in
                try xen.check(
                    libxl_domain_resume(xen.ctx, report.domid, 1, nil), "libxl_domain_resume (suspend_cancel)",
                    "parent \(name)")
            }
            // Resuming runs the domain unless the toolstack paused it too (`xl save -p` pauses it
            // before it resumes it, so a crash between the two leaves both): in the Xen harness a
            // domain both suspended and paused (`--pss-`) was still paused (`--p---`) after it.
            if try await self.report(named: name)?.status == .paused { try await unpause(report.domid, name: name) }
            log.warning("parent \(name) was left suspended by an interrupted checkpoint; resumed it")
            return "suspended"
        }
        guard report.status == .paused else { return nil }
        try await unpause(report.domid, name: name)
        log.warning("parent \(name) was paused; unpaused it")
        return "paused"
    }

    /// How long a batch may use its checkpoint file; older ones were left by a crashed process.
    static let checkpointLifetime: TimeInterval = 3600

    // MARK: - destroying

    /// The `Hypervisor` entry point; refusals are thrown as `FlockError.conflict`.
    public func destroy(name: String) async throws {
        do {
            try await destroyClone(name)
        } catch {
            throw error.asFlockError
        }
    }

    /// Destroys a clone; a clone that is already gone is a no-op, a parent is refused.
    public func destroyClone(_ name: String) async throws(XenError) {
        guard OwnedName.isFlockName(name), XenVMSpec.isValidName(name) else {
            throw .refused(
                "refusing to destroy '\(name)': Flock only destroys domains it named \(OwnedName.prefix)<pool>-<id>")
        }
        try prepareRoot()
        guard let report = try await report(named: name) else { return }  // already gone
        if report.record.role == .parent {
            throw .refused("refusing to destroy '\(name)': it is a parent domain (use stopParent)")
        }
        try await destroyDomain(report.domid, name: name)
    }

    /// Destroys a parent. Its clones keep running: each has its own copy of the memory.
    public func stopParent(name: String) async throws(XenError) {
        guard let report = try await report(named: name) else { throw .notFound(name) }
        guard report.record.role == .parent else { throw .refused("'\(name)' is a clone; destroy it instead") }
        try prepareRoot()
        try await destroyDomain(report.domid, name: name)
    }

    /// `libxl_domain_destroy`; a domain that vanished meanwhile counts as destroyed.
    func destroyDomain(_ domid: UInt32, name: String) async throws(XenError) {
        try await xen.run { xen throws(XenError) in
            let rc = libxl_domain_destroy(xen.ctx, domid, nil)
            if rc == ERROR_DOMAIN_NOTFOUND.rawValue { return }
            try xen.check(rc, "libxl_domain_destroy", "domain \(name) (domid \(domid))")
        }
    }

    /// Checks that the state root is private (creating it 0700 if missing), takes its lock
    /// (`<stateRoot>/lock`, kept for the driver's life: a second process would destroy or resume
    /// the domains this one is using) and creates the checkpoint directory: checkpoints hold
    /// guest memory.
    func prepareRoot() throws(XenError) {
        let root = configuration.stateRoot
        do {
            try createPrivateDirectory(root)
        } catch {
            throw .refused("the Xen state root cannot be used: \(error)")
        }
        if rootLock == nil {
            do {
                rootLock = try ExclusiveLock.shared(path: "\(root)/lock")
            } catch {
                throw .refused("the Xen state root \(root) is in use: \(error)")
            }
        }
        do {
            try createPrivateDirectory("\(root)/checkpoints")
        } catch {
            throw .refused("the Xen state root cannot be used: \(error)")
        }
    }
}
