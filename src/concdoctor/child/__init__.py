"""The child's side: everything that runs in the process that imports the user's code.

concdoctor's own process never imports this package except to start the child
(``python -m concdoctor.child``, or a fork that serves a callable). The two sides speak
only through :mod:`concdoctor.protocol`. Stacks that py-spy samples in files of this
package are concdoctor's, not the task's (see ``protocol.is_own_frame``).
"""
