/// The driver kinds a build of flockd provides, one factory per `kind:` value of each section.
///
/// The `flockd` executable lists the kinds it links (QEMU, Xen, HAProxy, Prometheus); tests list
/// in-memory ones. The config parser and `Daemon` only ever look kinds up here.
public struct DriverKinds: Sendable {
    public var hypervisors: [any HypervisorFactory]
    public var balancers: [any BalancerFactory]
    public var metrics: [any MetricsSourceFactory]

    public init(
        hypervisors: [any HypervisorFactory] = [], balancers: [any BalancerFactory] = [],
        metrics: [any MetricsSourceFactory] = []
    ) {
        self.hypervisors = hypervisors
        self.balancers = balancers
        self.metrics = metrics
    }

}
