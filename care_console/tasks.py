from celery import shared_task

from care_console.rollup import report_rollups_fold


@shared_task(name="care_console.tasks.fold_report_rollups")
def fold_report_rollups() -> int:
    return report_rollups_fold()
