import Glibc

/// A pthread mutex. The app is threads-and-blocking-sockets on purpose (no Foundation, no
/// async runtime in a tiny static guest binary), so shared state is guarded the classic way.
final class Mutex: @unchecked Sendable {
    private let handle: UnsafeMutablePointer<pthread_mutex_t>

    init() {
        handle = .allocate(capacity: 1)
        pthread_mutex_init(handle, nil)
    }

    deinit {
        pthread_mutex_destroy(handle)
        handle.deallocate()
    }

    func withLock<T>(_ body: () throws -> T) rethrows -> T {
        pthread_mutex_lock(handle)
        defer { pthread_mutex_unlock(handle) }
        return try body()
    }

    fileprivate var raw: UnsafeMutablePointer<pthread_mutex_t> { handle }
}

/// At most `count` holders at once, admitted first come, first served.
///
/// The accept loop takes a slot before accepting and each connection thread returns it, so the
/// app never spawns unbounded threads. `BackendWait` takes one per request. Waiters take a
/// ticket and are admitted in ticket order: a plain condition variable wakes an arbitrary
/// waiter, and under contention some requests then starve for seconds, a tail no real worker
/// queue has.
final class Slots: @unchecked Sendable {
    private let mutex = Mutex()
    private let condition: UnsafeMutablePointer<pthread_cond_t>
    private let count: Int
    /// Tickets handed out, and slots returned; ticket t may enter once t < released + count.
    private var issued = 0
    private var released = 0

    init(_ count: Int) {
        self.count = count
        condition = .allocate(capacity: 1)
        pthread_cond_init(condition, nil)
    }

    deinit {
        pthread_cond_destroy(condition)
        condition.deallocate()
    }

    func acquire() {
        mutex.withLock {
            let ticket = issued
            issued += 1
            while ticket >= released + count { pthread_cond_wait(condition, mutex.raw) }
        }
    }

    func release() {
        mutex.withLock {
            released += 1
            pthread_cond_broadcast(condition)
        }
    }
}

/// Starts a detached thread with a small stack; returns false if the system refused.
func startThread(stackBytes: Int = 256 * 1024, _ body: @escaping () -> Void) -> Bool {
    final class Box {
        let body: () -> Void
        init(_ body: @escaping () -> Void) { self.body = body }
    }
    let box = Unmanaged.passRetained(Box(body)).toOpaque()
    var attributes = pthread_attr_t()
    pthread_attr_init(&attributes)
    defer { pthread_attr_destroy(&attributes) }
    pthread_attr_setstacksize(&attributes, stackBytes)
    pthread_attr_setdetachstate(&attributes, Int32(PTHREAD_CREATE_DETACHED))
    var thread = pthread_t()
    let rc = pthread_create(
        &thread, &attributes,
        { raw in
            guard let raw else { return nil }
            let box = Unmanaged<AnyObject>.fromOpaque(raw).takeRetainedValue()
            (box as? Box)?.body()
            return nil
        }, box)
    if rc != 0 {
        Unmanaged<AnyObject>.fromOpaque(box).release()
        return false
    }
    return true
}
