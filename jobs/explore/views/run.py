"""Run: what a week's run did - rows and seconds per stage, Great Expectations results, the
run report's plots, offline metrics and Discovery Mode impressions per campaign."""

import matplotlib.pyplot as plt
import streamlit as st

from jobs.explore import data, ui
from jobs.reporting.queries import k_choice_plot, read_validations
from jobs.reporting.report import report_path

config = ui.config()
st.title("Run")
week = ui.pick_week(data.run_weeks(config), "run folder or published playlists")
with ui.missing_as_message():
    run = data.open_week_run(config, week)

validations = read_validations(config, week)
failed = [result.get("suite_name", "?") for result in validations if not result["success"]]
if failed:
    st.error(
        f"Validation failed: {', '.join(failed)}. "
        + ("The playlists published earlier stay." if run.published else "Not published.")
    )
elif run.published:
    st.success(f"Week {week} is published.")
else:
    st.warning(f"Week {week} is not published.")
model = data.model_of(run)
if model is not None:
    st.caption(
        f"Model {model['version']} ({model['backend']}, {model['factors']} factors, "
        f"{model['users']:,} listeners × {model['tracks']:,} tracks)"
    )
if report_path(config, week).exists():
    st.caption(f"Run report: {report_path(config, week)}")

st.header("Stages")
stages = data.stage_table(config, week)
if stages.empty:
    st.info(f"No stage records in {config.runs_dir}/week={week}/stages.")
else:
    started = stages["started"].dt.strftime("%Y-%m-%d %H:%M:%S UTC")
    st.table(stages.assign(started=started).round({"seconds": 2}), hide_index=True)
    st.bar_chart(stages, x="stage", y="seconds", horizontal=True, sort=False, height=260)
    st.caption(f"{len(stages)} stages, {stages['seconds'].sum():,.0f} s of work in all.")

st.header("Great Expectations")
if not validations:
    st.info(f"No validation results stored for week {week}.")
else:
    st.table(data.validation_table(validations), hide_index=True)
    for result in validations:
        if not result["success"]:
            st.subheader(f"Failed in {result.get('suite_name', '?')}")
            st.table(data.failures_table(result), hide_index=True)

st.header("Plots")
st.caption("The run report's own figures.")
figures = data.report_figures(run)
k_plot = k_choice_plot(config, week)
if not figures and not k_plot.exists():
    st.info(f"Nothing to plot: week {week} has neither published playlists nor clusters.")
columns = st.columns(2)
for position, (title, figure) in enumerate(figures):
    with columns[position % 2]:
        st.pyplot(figure, alt=title)
        plt.close(figure)
if k_plot.exists():
    columns[len(figures) % 2].image(str(k_plot), caption="Choice of k (clusters stage)")

st.header("Offline metrics")
metrics = data.week_metrics(config, week)
if not metrics:
    st.info(
        f"No run_metrics for week {week}: `weekly-playlists evaluate --week {week}` writes them."
    )
for dataset, table in metrics.items():
    st.subheader(f"Dataset {dataset}")
    st.table(table.round(4))

st.header("Discovery Mode impressions")
st.caption("Boosted placements in the published playlists, per sponsored campaign.")
with ui.missing_as_message(stop=False):
    impressions = data.campaign_impressions(run)
    if impressions.empty:
        st.info(f"No boosted placements in week {week}.")
    else:
        table_column, chart_column = st.columns([3, 2])
        table_column.table(impressions, hide_index=True)
        chart_column.bar_chart(
            impressions, x="campaign", y="impressions", color="playlist", horizontal=True
        )
