import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

extension ExclusiveLock {
    /// The locks this process holds through `shared(path:)`, weakly: a lock is released when its
    /// last holder lets go.
    private static let held = Mutex<[String: WeakLock]>([:])

    private struct WeakLock {
        weak var lock: ExclusiveLock?
    }

    /// The lock on `path`, shared by every holder in this process.
    ///
    /// The lock keeps other processes out. flock(2) locks conflict between two opens even in one
    /// process, so without sharing a process that builds a second driver on its own state root
    /// (a restarted driver in a test, a bench) would refuse itself.
    public static func shared(path: String) throws(Failure) -> ExclusiveLock {
        let key = (path as NSString).standardizingPath
        return try held.withLock { table throws(Failure) -> ExclusiveLock in
            if let lock = table[key]?.lock { return lock }
            var attempt = 0
            while true {
                do throws(Failure) {
                    let lock = try ExclusiveLock(path: key)
                    table[key] = WeakLock(lock: lock)
                    return lock
                } catch .held(_, let pid) where pid == getpid() && attempt < 20 {
                    // The last holder here has just let go and is closing its descriptor.
                    attempt += 1
                    usleep(5_000)
                }
            }
        }
    }
}
