"""The lessons: their registry (words in both languages, buttons, views) and what each does with the lab."""
