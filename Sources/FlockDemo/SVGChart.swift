import Foundation

/// Draws runs as small hand-written SVG: a measure on the left axis and the serving instances
/// on the right axis over time, with the load step shaded. No dependencies, so a chart opens in
/// any browser and diffs as text.
public enum SVGChart {
    /// One run of the demo: the request rate and the serving instances.
    public static func render(samples: [DemoSample], stepStart: Double, stepEnd: Double, title: String) -> String {
        var canvas = Canvas(
            maxT: max(samples.map(\.t).max() ?? 1, stepEnd, 1),
            maxLeft: niceCeiling(max(samples.map(\.requestRate).max() ?? 1, 1)),
            maxServing: Double(max(samples.map(\.serving).max() ?? 1, 1) + 1), title: title)
        canvas.frame(step: (stepStart, stepEnd), leftLabel: "requests/s", leftColor: rateColor)
        canvas.polyline(samples.map { ($0.t, $0.requestRate) }, color: rateColor, width: 1.5)
        canvas.staircase(samples.map { ($0.t, $0.serving) }, color: servingColor)
        canvas.legend([("requests/s (HAProxy)", rateColor, false), ("serving instances (flockd)", servingColor, false)])
        return canvas.finish()
    }

    /// Runs side by side (`bench scale-out`): each run's p99 latency (solid) and serving
    /// instances (dashed), and the latency target as a grey line.
    public static func renderComparison(
        runs: [(label: String, samples: [DemoSample])], stepStart: Double, stepEnd: Double, targetMs: Double?,
        title: String
    ) -> String {
        let all = runs.flatMap(\.samples)
        let highest = max(all.compactMap(\.p99Ms).max() ?? 1, targetMs ?? 1, 1)
        var canvas = Canvas(
            maxT: max(all.map(\.t).max() ?? 1, stepEnd, 1), maxLeft: niceCeiling(highest),
            maxServing: Double(max(all.map(\.serving).max() ?? 1, 1) + 1), title: title)
        canvas.frame(step: (stepStart, stepEnd), leftLabel: "p99 latency, ms", leftColor: "#333")
        if let targetMs {
            canvas.polyline([(0, targetMs), (canvas.maxT, targetMs)], color: "#888", width: 1, dashed: true)
        }
        var legend: [(String, String, Bool)] = []
        for (index, run) in runs.enumerated() {
            let color = palette[index % palette.count]
            canvas.polyline(run.samples.compactMap { s in s.p99Ms.map { (s.t, $0) } }, color: color, width: 1.5)
            canvas.staircase(run.samples.map { ($0.t, $0.serving) }, color: color, dashed: true)
            legend += [("\(run.label): p99 latency", color, false), ("\(run.label): serving instances", color, true)]
        }
        if let targetMs { legend.append((String(format: "target %.0f ms", targetMs), "#888", true)) }
        canvas.legend(legend)
        return canvas.finish()
    }

    /// `bench peak`: requests served per second by each instance since it was asked for, one
    /// line per run, coloured by series (cold, lazy), with the warm parent's rate and the
    /// threshold of "at peak" as grey lines.
    public static func renderThroughput(
        curves: [(label: String, series: String, perSecond: [Int])], peak: Double, threshold: Double, title: String
    ) -> String {
        let highest = max(curves.flatMap(\.perSecond).max().map(Double.init) ?? 1, peak, 1)
        // Some room above the peak, in quarters of its order of magnitude (100/s: up to 125).
        let unit = niceCeiling(highest) / 4
        var canvas = Canvas(
            maxT: Double(max(curves.map(\.perSecond.count).max() ?? 1, 1)),
            maxLeft: (highest * 1.15 / unit).rounded(.up) * unit,
            maxServing: 1, title: title)
        canvas.frame(
            step: nil, leftLabel: "requests served per second", leftColor: "#333",
            timeLabel: "seconds since the instance was asked for", servingAxis: false)
        canvas.polyline([(0, peak), (canvas.maxT, peak)], color: "#888", width: 1)
        canvas.polyline([(0, threshold), (canvas.maxT, threshold)], color: "#888", width: 1, dashed: true)
        var series: [String] = []
        for curve in curves where !series.contains(curve.series) { series.append(curve.series) }
        for curve in curves {
            let color = palette[(series.firstIndex(of: curve.series) ?? 0) % palette.count]
            // Each second's count drawn at the second's end: the requests served by then.
            let points = curve.perSecond.enumerated().map { (Double($0.offset + 1), Double($0.element)) }
            canvas.polyline([(0, 0)] + points, color: color, width: 1.5)
        }
        var legend = series.enumerated().map { ($0.element, palette[$0.offset % palette.count], false) }
        legend += [
            (String(format: "warm parent %.0f/s", peak), "#888", false),
            (String(format: "at peak: %.0f/s", threshold), "#888", true),
        ]
        // Bottom right: by then every curve is at the top, and a cold one still at zero on the left.
        canvas.legend(legend, x: canvas.plotW - 190)
        return canvas.finish()
    }

    static let rateColor = "#1f77b4"
    static let servingColor = "#d62728"
    static let palette = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd"]

    /// The plot area, its scales and the SVG text so far.
    struct Canvas {
        let width = 760.0, height = 360.0
        let left = 60.0, right = 60.0, top = 40.0, bottom = 50.0
        let maxT: Double, maxLeft: Double, maxServing: Double
        var svg: String

        init(maxT: Double, maxLeft: Double, maxServing: Double, title: String) {
            self.maxT = maxT
            self.maxLeft = maxLeft
            self.maxServing = maxServing
            svg = """
                <svg xmlns="http://www.w3.org/2000/svg" width="760" height="360" viewBox="0 0 760 360" font-family="sans-serif" font-size="12">
                <rect width="100%" height="100%" fill="white"/>
                <text x="380" y="22" text-anchor="middle" font-size="15">\(escape(title))</text>

                """
        }

        var plotW: Double { width - left - right }
        var plotH: Double { height - top - bottom }
        func x(_ t: Double) -> Double { left + plotW * t / maxT }
        func yLeft(_ v: Double) -> Double { top + plotH * (1 - min(v, maxLeft) / maxLeft) }
        func yServing(_ s: Double) -> Double { top + plotH * (1 - s / maxServing) }

        /// The shaded step (if any), the axes with their ticks and labels; the right axis counts
        /// serving instances unless `servingAxis` is false.
        mutating func frame(
            step: (start: Double, end: Double)?, leftLabel: String, leftColor: String,
            timeLabel: String = "seconds since the load started", servingAxis: Bool = true
        ) {
            if let step {
                svg += """
                    <rect x="\(f(x(step.start)))" y="\(f(top))" width="\(f(max(0, x(step.end) - x(step.start))))" height="\(f(plotH))" fill="#fde9c8"/>
                    <text x="\(f((x(step.start) + x(step.end)) / 2))" y="\(f(top + 14))" text-anchor="middle" fill="#a06000">load step</text>

                    """
            }
            svg += line(left, top + plotH, left + plotW, top + plotH) + line(left, top, left, top + plotH)
            svg += line(left + plotW, top, left + plotW, top + plotH)
            for i in 0...5 {
                let t = maxT * Double(i) / 5
                svg += line(x(t), top + plotH, x(t), top + plotH + 4)
                svg += text(x(t), top + plotH + 18, "\(Int(t.rounded()))", anchor: "middle")
                let v = maxLeft * Double(i) / 5
                svg += text(left - 6, yLeft(v) + 4, "\(Int(v.rounded()))", anchor: "end", color: leftColor)
            }
            svg += text(left + plotW / 2, height - 10, timeLabel, anchor: "middle")
            svg +=
                "<text transform=\"translate(16 \(f(top + plotH / 2))) rotate(-90)\" text-anchor=\"middle\" fill=\"\(leftColor)\">\(escape(leftLabel))</text>\n"
            guard servingAxis else { return }
            for s in 0...Int(maxServing) {
                svg += text(left + plotW + 6, yServing(Double(s)) + 4, "\(s)", color: SVGChart.servingColor)
            }
            svg +=
                "<text transform=\"translate(\(f(width - 14)) \(f(top + plotH / 2))) rotate(90)\" text-anchor=\"middle\" fill=\"\(SVGChart.servingColor)\">serving instances</text>\n"
        }

        /// Values on the left axis (clipped at its top).
        mutating func polyline(_ points: [(Double, Double)], color: String, width: Double, dashed: Bool = false) {
            let text = points.map { "\(f(x($0.0))),\(f(yLeft($0.1)))" }.joined(separator: " ")
            svg +=
                "<polyline fill=\"none\" stroke=\"\(color)\" stroke-width=\"\(width)\"\(dashed ? " stroke-dasharray=\"5 4\"" : "") points=\"\(text)\"/>\n"
        }

        /// A count on the right axis; it changes in steps, so it is drawn as a staircase.
        mutating func staircase(_ points: [(Double, Int)], color: String, dashed: Bool = false) {
            var stairs: [String] = []
            for (i, point) in points.enumerated() {
                if i > 0 { stairs.append("\(f(x(point.0))),\(f(yServing(Double(points[i - 1].1))))") }
                stairs.append("\(f(x(point.0))),\(f(yServing(Double(point.1))))")
            }
            svg +=
                "<polyline fill=\"none\" stroke=\"\(color)\" stroke-width=\"2\"\(dashed ? " stroke-dasharray=\"5 4\"" : "") points=\"\(stairs.joined(separator: " "))\"/>\n"
        }

        /// Entries from the bottom left up: label, colour, dashed.
        /// `x`: the entries' left edge, offset from the plot's (default: its left).
        mutating func legend(_ entries: [(String, String, Bool)], x offset: Double = 10) {
            for (i, entry) in entries.enumerated() {
                let y = top + plotH - 14 - 16 * Double(entries.count - 1 - i)
                svg +=
                    "<line x1=\"\(f(left + offset))\" y1=\"\(f(y))\" x2=\"\(f(left + offset + 20))\" y2=\"\(f(y))\" stroke=\"\(entry.1)\" stroke-width=\"2\"\(entry.2 ? " stroke-dasharray=\"5 4\"" : "")/>\n"
                svg += text(left + offset + 25, y + 4, entry.0)
            }
        }

        func finish() -> String { svg + "</svg>\n" }
    }

    private static func f(_ v: Double) -> String { String(format: "%.1f", v) }

    private static func line(_ x1: Double, _ y1: Double, _ x2: Double, _ y2: Double) -> String {
        "<line x1=\"\(f(x1))\" y1=\"\(f(y1))\" x2=\"\(f(x2))\" y2=\"\(f(y2))\" stroke=\"#333\"/>\n"
    }

    private static func text(
        _ x: Double, _ y: Double, _ content: String, anchor: String = "start", color: String? = nil
    ) -> String {
        "<text x=\"\(f(x))\" y=\"\(f(y))\" text-anchor=\"\(anchor)\"\(color.map { " fill=\"\($0)\"" } ?? "")>\(escape(content))</text>\n"
    }

    /// 1, 2 or 5 times a power of ten at or above `value`, for round axis labels.
    static func niceCeiling(_ value: Double) -> Double {
        let magnitude = pow(10, floor(log10(value)))
        for step in [1.0, 2.0, 5.0, 10.0] where step * magnitude >= value { return step * magnitude }
        return 10 * magnitude
    }

    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;")
    }
}
