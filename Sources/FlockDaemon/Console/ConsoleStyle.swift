/// The console's style sheet, served as a file because the Content-Security-Policy allows no
/// inline style.
enum ConsoleStyle {
    static let source = #"""
        :root { --ink: #1d2530; --muted: #5b6675; --line: #d5dbe3; --accent: #1f6feb; --warn: #b42318; }
        * { box-sizing: border-box; }
        body { margin: 0; font: 14px/1.45 system-ui, sans-serif; color: var(--ink); background: #f6f8fa; }
        header { display: flex; gap: 24px; align-items: center; padding: 8px 20px; background: #fff;
          border-bottom: 1px solid var(--line); }
        header h1 { margin: 0; font-size: 20px; }
        header a { color: inherit; text-decoration: none; }
        #auth { margin-left: auto; display: flex; gap: 6px; align-items: center; }
        #mode { color: var(--muted); }
        body.read-only #mode { color: var(--warn); }
        main { padding: 4px 20px 40px; }
        #error { margin: 8px 20px; padding: 8px 12px; background: #fdecea; color: var(--warn);
          border: 1px solid #f5c2bd; border-radius: 4px; }
        #updated { margin: 4px 20px 0; color: var(--muted); font-size: 12px; }
        table { border-collapse: collapse; background: #fff; width: 100%; }
        th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
        th { font-weight: 600; color: var(--muted); }
        td.reason { max-width: 560px; }
        #pool-counts { display: flex; gap: 12px; margin: 8px 0; }
        #pool-counts div { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: 6px 14px; }
        #pool-counts dt { color: var(--muted); font-size: 12px; }
        #pool-counts dd { margin: 0; font-size: 22px; font-weight: 600; }
        #actions { display: flex; gap: 6px; margin: 8px 0 16px; }
        #manual-count { width: 80px; }
        #chart svg { background: #fff; border: 1px solid var(--line); border-radius: 6px; max-width: 100%; height: auto; }
        .frame { fill: none; stroke: var(--line); }
        .axis { font-size: 11px; fill: var(--muted); }
        .target { stroke: #9a6700; stroke-dasharray: 6 4; }
        polyline { fill: none; stroke-width: 1.8; }
        .metric-0 { stroke: var(--accent); fill: var(--accent); }
        .metric-1 { stroke: #8250df; fill: #8250df; }
        .metric-2 { stroke: #bf3989; fill: #bf3989; }
        .metric-3 { stroke: #0a7f7f; fill: #0a7f7f; }
        polyline.metric-0, polyline.metric-1, polyline.metric-2, polyline.metric-3 { fill: none; }
        polyline.serving { stroke: #1a7f37; stroke-width: 2.4; }
        rect.serving { fill: #1a7f37; }
        .decision line { stroke-width: 1; stroke-dasharray: 2 3; }
        .decision.scale_out line, .decision.scale_out circle { stroke: #1a7f37; fill: #1a7f37; }
        .decision.scale_in line, .decision.scale_in circle { stroke: var(--warn); fill: var(--warn); }
        #lineage, #lineage ul { list-style: none; padding-left: 18px; }
        #lineage li { margin: 2px 0; }
        .snapshot { color: var(--muted); }
        .instance { color: var(--ink); font-family: ui-monospace, monospace; font-size: 13px; }
        .state-failed { color: var(--warn); }
        pre { background: #fff; border: 1px solid var(--line); padding: 8px; overflow: auto; max-height: 360px; }
        #policy-diff .added { color: #1a7f37; }
        #policy-diff .removed { color: var(--warn); }
        #policy-diff .same { color: var(--muted); }
        #events { background: #fff; border: 1px solid var(--line); padding: 6px 6px 6px 48px; max-height: 420px;
          overflow: auto; font-family: ui-monospace, monospace; font-size: 12px; }
        #events .kind { color: var(--accent); }
        #events .pool { color: var(--muted); }

        """#
}
