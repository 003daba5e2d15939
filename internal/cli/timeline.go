package cli

import (
	"fmt"
	"html"
	"io"
	"strings"
	"time"

	"github.com/idtenant/idtenant/api/v1alpha1"
)

// event is one bar of the timeline: something that ends at offset after
// the login.
type event struct {
	label  string
	at     time.Duration
	why    string // the setting that decided it
	cutoff bool   // the session's end: nothing outlives it
}

// timelineEvents lists, for a user who logs in now and then does nothing,
// when each token and the session end, from the Application's status
// (already capped by the session where the session decides).
func timelineEvents(app *v1alpha1.Application) []event {
	e := app.Status.Effective
	if e == nil {
		return nil
	}
	sec := func(l v1alpha1.EffectiveLifetime) time.Duration { return time.Duration(l.Seconds) * time.Second }
	var out []event
	if e.IDToken != nil {
		out = append(out, event{label: "ID token", at: sec(*e.IDToken), why: e.IDToken.BoundBy})
	}
	for _, at := range e.AccessTokens {
		if at.Flow == v1alpha1.FlowStandard || len(e.AccessTokens) == 1 {
			out = append(out, event{label: "access " + at.API, at: sec(at.Lifetime), why: at.Lifetime.BoundBy})
		} else {
			out = append(out, event{label: "access " + at.API + " (" + string(at.Flow) + ")", at: sec(at.Lifetime), why: at.Lifetime.BoundBy})
		}
	}
	if r := e.RefreshToken; r != nil {
		unused := event{label: "refresh, if unused", at: sec(r.InactivityLifetime), why: r.InactivityLifetime.BoundBy}
		// A refresh token bound to the session ends with it: for a user
		// who does nothing (and a client that does not refresh), that is
		// when the session ends for inactivity. Without offline_access
		// this holds for SessionUnlessOfflineAccess too.
		if s := e.Session; s != nil && r.SessionBinding != "" && sec(s.InactivityTimeout) < unused.at {
			unused.at, unused.why = sec(s.InactivityTimeout), s.InactivityTimeout.BoundBy+" (it ends with the session)"
		}
		out = append(out, unused,
			event{label: "refresh, if used", at: sec(r.AbsoluteLifetime), why: r.AbsoluteLifetime.BoundBy})
	}
	if s := e.Session; s != nil {
		out = append(out, event{label: "session, if idle", at: sec(s.InactivityTimeout), why: s.InactivityTimeout.BoundBy, cutoff: true},
			event{label: "session, at most", at: sec(s.AbsoluteTimeout), why: s.AbsoluteTimeout.BoundBy, cutoff: true})
	}
	return out
}

// timeline draws the events as bars from the login (at login) to their end,
// scaled to the longest, with the clock time each ends.
func timeline(w io.Writer, app *v1alpha1.Application, login time.Time, width int) error {
	events := timelineEvents(app)
	if len(events) == 0 {
		return fmt.Errorf("Application %s/%s has no effective lifetimes in status yet: %s", app.Namespace, app.Name,
			conditionMessage(app.Status.Conditions, v1alpha1.ConditionReady))
	}
	longest := longestOf(events)
	labelWidth := 0
	for _, e := range events {
		labelWidth = max(labelWidth, len(e.label))
	}
	fmt.Fprintf(w, "Application %s/%s (%s): a user who logs in at %s and then does nothing\n\n",
		app.Namespace, app.Name, app.Spec.Type, login.Format("15:04 MST"))
	fmt.Fprintf(w, "%-*s  %s\n", labelWidth, "", axis(longest, width))
	for _, e := range events {
		n := int(float64(width) * float64(e.at) / float64(longest))
		bar := strings.Repeat("█", max(n, 1))
		if e.cutoff {
			bar = strings.Repeat("▒", max(n, 1))
		}
		fmt.Fprintf(w, "%-*s  %-*s  %-7s %s  ← %s\n", labelWidth, e.label, width, bar, short(e.at), login.Add(e.at).Format("Jan 2 15:04"), e.why)
	}
	fmt.Fprintln(w, "\n█ a token is valid   ▒ the session lasts (with activity the idle end moves; the absolute end never does)")
	return nil
}

func longestOf(events []event) time.Duration {
	var longest time.Duration
	for _, e := range events {
		longest = max(longest, e.at)
	}
	return max(longest, time.Second)
}

// axis labels 0 and the longest duration, with two marks between.
func axis(longest time.Duration, width int) string {
	line := []rune(strings.Repeat(" ", width+8))
	put := func(pos int, s string) {
		for i, r := range s {
			if pos+i < len(line) {
				line[pos+i] = r
			}
		}
	}
	for i := 0; i <= 3; i++ {
		pos := i * width / 3
		label := short(longest * time.Duration(i) / 3)
		if i == 3 {
			pos -= len(label) - 1
		}
		put(max(pos, 0), label)
	}
	return strings.TrimRight(string(line), " ")
}

// short prints a duration the way people say it: 45m, 8h, 30d, 1h30m.
func short(d time.Duration) string {
	d = d.Round(time.Second)
	switch {
	case d == 0:
		return "0"
	case d%(24*time.Hour) == 0:
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	case d%time.Hour == 0:
		return fmt.Sprintf("%dh", d/time.Hour)
	case d%time.Minute == 0 && d > time.Hour:
		return fmt.Sprintf("%dh%dm", d/time.Hour, (d%time.Hour)/time.Minute)
	case d%time.Minute == 0:
		return fmt.Sprintf("%dm", d/time.Minute)
	default:
		return d.String()
	}
}

// timelineSVG draws the same timeline as an SVG picture, for docs.
func timelineSVG(w io.Writer, app *v1alpha1.Application, login time.Time) error {
	events := timelineEvents(app)
	if len(events) == 0 {
		return fmt.Errorf("Application %s/%s has no effective lifetimes in status yet", app.Namespace, app.Name)
	}
	longest := longestOf(events)
	const barWidth, row, top = 520, 28, 48
	left := 150 // room for the longest label, at ~7px a character
	for _, e := range events {
		left = max(left, 24+7*len(e.label))
	}
	height := top + row*len(events) + 40
	fmt.Fprintf(w, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="13">`+"\n", left+barWidth+170, height)
	fmt.Fprintf(w, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	fmt.Fprintf(w, `<text x="10" y="22" font-size="15" font-weight="bold">%s</text>`+"\n",
		html.EscapeString(fmt.Sprintf("Application %s/%s: a user who logs in at %s and then does nothing", app.Namespace, app.Name, login.Format("15:04 MST"))))
	for i := 0; i <= 3; i++ {
		x := left + i*barWidth/3
		fmt.Fprintf(w, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#ccc"/><text x="%d" y="%d" fill="#666" text-anchor="middle">%s</text>`+"\n",
			x, top-8, x, height-30, x, top-12, short(longest*time.Duration(i)/3))
	}
	for i, e := range events {
		y := top + i*row
		wbar := max(int(float64(barWidth)*float64(e.at)/float64(longest)), 2)
		fill := "#2f6fde"
		if e.cutoff {
			fill = "#b9c7e0"
		}
		fmt.Fprintf(w, `<text x="10" y="%d">%s</text>`+"\n", y+15, html.EscapeString(e.label))
		fmt.Fprintf(w, `<rect x="%d" y="%d" width="%d" height="18" rx="3" fill="%s"><title>%s</title></rect>`+"\n", left, y+2, wbar, fill, html.EscapeString(e.why))
		fmt.Fprintf(w, `<text x="%d" y="%d">%s</text>`+"\n", left+wbar+6, y+15, html.EscapeString(short(e.at)+"  "+login.Add(e.at).Format("Jan 2 15:04")))
	}
	fmt.Fprintf(w, `<text x="10" y="%d" fill="#666">dark: a token is valid; light: the session lasts (activity moves the idle end, never the absolute one). Hover a bar for the setting that decided it.</text>`+"\n", height-10)
	fmt.Fprintln(w, "</svg>")
	return nil
}
