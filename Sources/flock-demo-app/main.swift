import Glibc

/// flock-demo-app: the stand-in web app inside the guest (see Deploy/guest/README.md).
signal(SIGPIPE, SIG_IGN)
let config = Config.load(arguments: CommandLine.arguments)
let router = Router(
    cache: ItemCache(missCostMs: config.missCostMs), identity: GuestIdentity(), startedNs: ItemCache.monotonicNs(),
    backendWait: BackendWait(workers: config.workers, waitMs: config.itemWaitMs))
let failure = Server(config: config, router: router).run()
log("fatal: \(failure)")
exit(1)
