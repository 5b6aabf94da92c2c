"""Teaching IPA bottom-up: the logic behind the tutorial notebooks, their workspaces and the class report.

One job per module:

- :mod:`.text`: transcripts for reading, lines, spans and phrases;
- :mod:`.students`: a student's own files below ``student_work/`` (name, passages, themes, answers);
- :mod:`.feedback`: reading an answer (anchored checks, keyboard mash, forgiving parsing);
- :mod:`.exercises`: the seven tutorials' exercises and model answers;
- :mod:`.compare`: a student's reading beside the study's, as discussion;
- :mod:`.widget`: the ipywidgets workspaces;
- :mod:`.lab`: working copies of the tutorials for ``make lab``;
- :mod:`.report`: the teacher's class report (``make class-report``).
"""
