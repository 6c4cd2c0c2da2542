// Submits the response_mode=form_post form (OAuth 2.0 Form Post Response
// Mode). Without JavaScript the page shows a Continue button instead.
document.getElementById("formpost").submit();
