import FlockCore
import FlockDemo
import FlockSystem
import FlockTestSupport
import Foundation
import Testing

extension EndToEnd {
    /// The console's pool page in headless Chromium while the demo's stack (real QEMU guests,
    /// real HAProxy, the built flockd) runs the demo's load step, shortened: the page shows the
    /// serving count the API reports, and its screenshot is saved, to `FLOCK_CONSOLE_SCREENSHOT`
    /// when set (`Docs/console-pool.png` is made that way), else to a temporary file.
    @Test func theConsolesPoolPageUnderTheDemosLoadStep() async throws {
        let e2e = try await E2E(policy: DemoPolicy())
        do {
            let scratch = try Scratch(prefix: "flock-console-shot")
            let plan = LoadPlan(calm: 10, step: 60, tail: 5)
            let stack = e2e.stack
            let run = Task {
                try await LoadStepRun.run(stack: stack, plan: plan, directory: e2e.directory) { _ in }
            }
            let port = e2e.flockd.port
            let path = "/v1/pools/\(e2e.pool)"
            let png = try await WebDriver.with(in: scratch, width: 1280, height: 1500) { browser in
                try await browser.navigate("http://127.0.0.1:\(port)/ui#/pool/\(e2e.pool)")
                // During the step, once the pool has scaled out and a clone serves.
                let scaled = await eventuallyRetryingErrors(timeout: .seconds(75), every: .milliseconds(500)) {
                    (try await PlainHTTP.get(port: port, path).json?["serving"] as? Int ?? 0) >= 2
                }
                let picture = await e2e.picture()
                #expect(scaled, "no clone served during the step: \(picture)")
                var api = -1
                var page = ""
                let agree = await eventuallyRetryingErrors(timeout: .seconds(20), every: .milliseconds(300)) {
                    api = try await PlainHTTP.get(port: port, path).json?["serving"] as? Int ?? -1
                    page = try await browser.text("#count-serving")
                    return page == String(api)
                }
                #expect(agree, "the page shows \(page) serving, the API \(api)")
                // Let the chart draw a few of the step's samples with the new count.
                try await Task.sleep(for: .seconds(4))
                return try await browser.screenshot()
            }
            let destination =
                ProcessInfo.processInfo.environment["FLOCK_CONSOLE_SCREENSHOT"] ?? scratch.path("console-pool.png")
            try png.write(to: URL(fileURLWithPath: destination))
            #expect(png.count > 10_000, "a \(png.count)-byte screenshot")
            #expect(png.starts(with: [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]), "not a PNG")
            _ = try await run.value
        } catch {
            await e2e.tearDown()
            throw error
        }
        await e2e.tearDown()
    }
}
