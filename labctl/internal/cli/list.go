package cli

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/gomicrolab/microlab/labctl/internal/lab"
	"github.com/gomicrolab/microlab/labctl/internal/runner"
)

type listJSON struct {
	ID        string         `json:"id"`
	Dir       string         `json:"dir"`
	Title     string         `json:"title"`
	Exercises []listExercise `json:"exercises"`
}

type listExercise struct {
	ID      string   `json:"id"`
	Title   string   `json:"title"`
	Status  string   `json:"status"` // from the last check (a cache), not-run if never checked
	Minutes int      `json:"minutes"`
	Infra   []string `json:"infra"`
}

func (a *app) newListCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List chapters and exercises with the status of their last check",
		Args:  cobra.NoArgs,
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	cmd.RunE = a.runE(func(cmd *cobra.Command, args []string) error {
		l, err := a.open()
		if err != nil {
			return err
		}
		return a.printList(l, asJSON)
	})
	return cmd
}

// printList prints the chapters and exercises with their statuses, as text or JSON.
func (a *app) printList(l *lab.Lab, asJSON bool) error {
	var doc []listJSON
	for _, ch := range l.Course().Chapters {
		lj := listJSON{ID: ch.ID, Dir: ch.Dir, Title: a.text(ch.Title), Exercises: []listExercise{}}
		for _, ex := range ch.Exercises {
			infra := append([]string{}, ex.Infra...)
			lj.Exercises = append(lj.Exercises, listExercise{ID: ex.ID, Title: a.text(ex.Title),
				Status: string(l.Status(ex.ID)), Minutes: ex.Minutes, Infra: infra})
		}
		doc = append(doc, lj)
	}
	if asJSON {
		enc := json.NewEncoder(a.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(doc)
	}
	for _, ch := range doc {
		done := 0
		for _, ex := range ch.Exercises {
			if ex.Status == string(runner.StatusPass) {
				done++
			}
		}
		fmt.Fprintf(a.stdout, "%s  %s  (%s)\n", ch.ID, ch.Title, a.t("list.done", done, len(ch.Exercises)))
		for _, ex := range ch.Exercises {
			extra := fmt.Sprintf("%d min", ex.Minutes)
			if len(ex.Infra) > 0 {
				extra += ", " + strings.Join(ex.Infra, ", ")
			}
			fmt.Fprintf(a.stdout, "  %s %-18s %s (%s)\n", a.statusLabel(runner.Status(ex.Status)), ex.ID, ex.Title, extra)
		}
	}
	return nil
}
