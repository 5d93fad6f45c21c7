"""concdoctor in Jupyter: ``%load_ext concdoctor``, the ``%concdoctor`` magics and their
progress bar (the kernel's side), and the helper process that diagnoses a notebook's
function without forking the kernel (:mod:`.helper`). The report itself displays inline
through ``Diagnosis._repr_html_`` (:mod:`concdoctor.render.inline`).

Nothing here is imported by ``import concdoctor`` or by the command line: IPython is the
optional extra ``concdoctor[notebook]``.
"""
