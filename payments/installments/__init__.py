"""Payment in installments: schedules, plans and their automatic collection."""
