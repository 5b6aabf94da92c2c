"""Teaching IPA bottom-up: the logic behind the tutorial notebooks, their workspaces and the class report.

One job per module:

- :mod:`.text`: transcripts for reading, lines, spans and phrases;
- :mod:`.students`: a student's own folder below ``student_work/`` (name, coded passages) and :mod:`.saved`
  (personal and group themes, answers);
- :mod:`.feedback`: verdicts on an answer (checks anchored in the passage), from :mod:`.words` (content words,
  vocabulary, keyboard mash); :mod:`.parsing` reads answers forgivingly and refuses in one line;
- :mod:`.exercises`: the seven tutorials' exercises and model answers, as the notebooks import them, from
  :mod:`.case_exercises` (T1-T5), :mod:`.group_exercises` (T6, T7), :mod:`.progress` (the checklists) and
  :mod:`.exercise_tools` (what they share);
- :mod:`.compare`: a student's reading beside the study's, as discussion;
- :mod:`.widget`: the ipywidgets workspaces (:class:`CodingWidget` here; :mod:`.theme_widgets` for themes and
  group themes, :mod:`.workspace` for their shared base, :mod:`.views` for the HTML they show);
- :mod:`.lab`: working copies of the tutorials for ``make lab``;
- :mod:`.report`: the teacher's class report (``make class-report``).
"""
