import FlockGuestKit
import Glibc

/// What the guest currently is, as reported in `ready`. Read fresh on every hello, because after
/// a snapshot restore the host may be talking to a clone whose state differs from what the agent
/// last saw.
struct GuestState {
    var hostname: String
    var bootID: String
    var cloneID: String?
    var generation: Int64
    var appUp: Bool

    static func current() -> GuestState {
        let identity = IdentityFile.load()
        return GuestState(
            hostname: GuestHost.hostname(),
            bootID: GuestHost.bootID(),
            cloneID: identity?.cloneID,
            generation: identity?.generation ?? 0,
            appUp: AppHealth.isUp()
        )
    }
}
